"""Names for the ids a Slack message mentions: people, channels and user groups.

The converters only ask; who answers (a cache of Slack lookups, a dict in a test) is the caller's
choice. An id nobody can name still renders, as `@U0123` or `#C0123`, so no mention is ever lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class NameResolver(Protocol):
    """Answers with a name, or None when it does not know the id."""

    def user_name(self, user_id: str) -> str | None: ...

    def channel_name(self, channel_id: str) -> str | None: ...

    def usergroup_handle(self, usergroup_id: str) -> str | None: ...


@dataclass(frozen=True)
class StaticNames:
    """A NameResolver backed by plain dicts: for tests, and for names already looked up."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    usergroups: Mapping[str, str] = field(default_factory=dict)

    def user_name(self, user_id: str) -> str | None:
        return self.users.get(user_id)

    def channel_name(self, channel_id: str) -> str | None:
        return self.channels.get(channel_id)

    def usergroup_handle(self, usergroup_id: str) -> str | None:
        return self.usergroups.get(usergroup_id)


NO_NAMES: NameResolver = StaticNames()
"""Resolves nothing: every mention renders as its id."""


def _ask(lookup: Callable[[str], str | None], key: str) -> str | None:
    # A resolver may call Slack; a failed lookup must cost a name, never the whole message.
    try:
        answer = lookup(key)
    except Exception as error:  # any failure degrades to the id, never to a lost message
        log.debug("name lookup failed: %s", type(error).__name__)
        return None
    return answer if isinstance(answer, str) and answer.strip() else None


def _at(name: str) -> str:
    return "@" + name.strip().lstrip("@")


def user_mention(names: NameResolver, user_id: str, label: str = "") -> str:
    """`@Name`: the resolver's name, else the label Slack sent along, else the id."""
    return _at(_ask(names.user_name, user_id) or label.strip() or user_id)


def channel_mention(names: NameResolver, channel_id: str, label: str = "") -> str:
    name = _ask(names.channel_name, channel_id) or label.strip() or channel_id
    return "#" + name.strip().lstrip("#")


def usergroup_mention(names: NameResolver, usergroup_id: str, label: str = "") -> str:
    return _at(_ask(names.usergroup_handle, usergroup_id) or label.strip() or usergroup_id)

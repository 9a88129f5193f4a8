"""A `message` event read into what the bot needs to decide about it. Pure, and cheap: it runs for
every message in every channel the bot is in.

What counts as a person's message: no subtype, or `file_share` (a message with files), `me_message`
or `thread_broadcast` (a reply also sent to the channel). Everything else — joins, topics, bots,
Slack's own notices — is not a person speaking. Edits (`message_changed`) and deletions
(`message_deleted`) are read as such, naming the message they change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Subtypes of a new message written by a person.
PERSON_SUBTYPES = frozenset({"file_share", "me_message", "thread_broadcast"})
EDITED = "message_changed"
DELETED = "message_deleted"


class MessageKind(enum.Enum):
    NEW = "new"
    EDITED = "edited"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    """One message event: which message (channel, ts), where in its conversation, and by whom."""

    kind: MessageKind
    channel: str
    ts: str
    """The message's own ts; for an edit or a deletion, the ts of the message changed."""
    thread_ts: str | None
    """The thread's parent ts when the message is in a thread (the parent itself included)."""
    user: str | None
    user_team: str | None
    event: Mapping[str, Any]
    """The event as Slack sent it; for an edit, `message` holds the new version."""

    @property
    def top_level(self) -> bool:
        """Posted in the channel, not as a reply (a thread's parent is top level too)."""
        return self.thread_ts is None or self.thread_ts == self.ts

    @property
    def message(self) -> Mapping[str, Any]:
        """The message as it is now (the new version of an edit; the last version of a deletion)."""
        key = {MessageKind.EDITED: "message", MessageKind.DELETED: "previous_message"}.get(self.kind)
        inner = self.event.get(key) if key else self.event
        return inner if isinstance(inner, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _by_person(message: Mapping[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    """Written by a person: a user and no bot behind it (the bot's own messages least of all)."""
    user = message.get("user")
    if not isinstance(user, str) or not user or message.get("bot_id") or message.get("bot_profile"):
        return False
    return not (user == bot_user_id or (bot_id and message.get("bot_id") == bot_id))


def read_message_event(
    event: Mapping[str, Any], *, bot_user_id: str | None, bot_id: str | None
) -> ChannelMessage | None:
    """The event as a `ChannelMessage`, or None when it is nothing a person said (a join, a bot,
    the bot itself, Slack's own notices) or not a message event at all."""
    if event.get("type") != "message":
        return None
    channel = _str(event.get("channel"))
    if channel is None:
        return None
    subtype = event.get("subtype")
    if subtype is None or subtype in PERSON_SUBTYPES:
        if not _by_person(event, bot_user_id, bot_id):
            return None
        return _read(MessageKind.NEW, channel, _str(event.get("ts")), event, event)
    if subtype == EDITED:
        changed = event.get("message")
        if not isinstance(changed, Mapping) or not _by_person(changed, bot_user_id, bot_id):
            return None
        return _read(MessageKind.EDITED, channel, _str(changed.get("ts")), changed, event)
    if subtype == DELETED:
        previous = event.get("previous_message")
        before: Mapping[str, Any] = previous if isinstance(previous, Mapping) else {}
        return _read(MessageKind.DELETED, channel, _str(event.get("deleted_ts")), before, event)
    return None


def _read(
    kind: MessageKind,
    channel: str,
    ts: str | None,
    message: Mapping[str, Any],
    event: Mapping[str, Any],
) -> ChannelMessage | None:
    """``message``: the version that says where it is and who wrote it (the new one of an edit, the
    last one of a deletion)."""
    if ts is None:
        return None
    return ChannelMessage(
        kind,
        channel,
        ts,
        _str(message.get("thread_ts")),
        _str(message.get("user")),
        _str(message.get("user_team")) or _str(message.get("team")),
        event,
    )

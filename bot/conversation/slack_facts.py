"""What Slack tells about a follow-up: its author's name and its link. Cached lookups (users.info,
chat.getPermalink), asked by the sender in the background, never on the ack path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.names import NameResolver
from bot.slack.lookups import SlackLookups

__all__ = ["SlackFacts"]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class SlackFacts:
    def __init__(self, lookups: SlackLookups) -> None:
        self._lookups = lookups

    @property
    def names(self) -> NameResolver:
        return self._lookups

    def author(self, user_id: str | None, message: Mapping[str, Any]) -> str:
        """The author's full name: from the message itself (Slack sends the profile along with
        most people's messages, those of other organizations too), else users.info, else the id."""
        profile = message.get("user_profile")
        if isinstance(profile, Mapping):
            name = _text(profile.get("real_name")) or _text(profile.get("display_name"))
            if name:
                return name
        if user_id:
            user = self._lookups.user(user_id)
            if user is not None:
                return user.real_name or user.name
            return f"@{user_id}"
        return "Someone"

    def permalink(self, channel_id: str, ts: str) -> str:
        """The reply's link in Slack (chat.getPermalink); Slack's generic archive link when it
        will not say, which still opens the message for anyone in the workspace."""
        found = self._lookups.permalink(channel_id, ts)
        return found or f"https://slack.com/archives/{channel_id}/p{ts.replace('.', '')}"

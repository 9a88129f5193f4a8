"""What the person pointed at: the Slack message behind a message shortcut."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

# Message subtypes Slack writes itself; there is no customer voice in them.
SYSTEM_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "group_topic",
        "group_purpose",
        "group_name",
        "pinned_item",
        "unpinned_item",
        "tombstone",
        "message_deleted",
    }
)

# The parts of a Slack message that carry what was said; the rest (reactions, edits…) is noise.
CONTENT_KEYS = ("text", "blocks", "attachments", "files")


class SourceMessage(BaseModel):
    """A Slack message on its way to becoming feedback, with where it lives and who wrote it."""

    model_config = ConfigDict(frozen=True)

    workspace_team_id: str | None
    channel_id: str
    channel_name: str | None = None
    ts: str
    # The thread the reply belongs in: the parent's ts when the shortcut was used on a reply.
    thread_ts: str
    author_id: str | None = None
    author_team_id: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    content: dict[str, Any]
    # How many replies the message has, when it is a thread's parent and Slack said so.
    reply_count: int | None = None

    @property
    def in_thread(self) -> bool:
        """The message is a reply, or has replies: there is a whole thread to include."""
        return self.thread_ts != self.ts or (self.reply_count or 0) > 0

    @property
    def thread_size(self) -> int | None:
        """Messages in the thread (the parent and its replies), when the payload tells."""
        return self.reply_count + 1 if self.reply_count and self.thread_ts == self.ts else None

    @property
    def author_is_external(self) -> bool:
        """A Slack Connect author belongs to another organization's workspace."""
        return bool(
            self.author_team_id and self.workspace_team_id and self.author_team_id != self.workspace_team_id
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def source_from_message_shortcut(payload: Mapping[str, Any]) -> SourceMessage:
    """Read a `message_action` payload into a SourceMessage (no Slack calls)."""
    message: Mapping[str, Any] = payload.get("message") or {}
    channel: Mapping[str, Any] = payload.get("channel") or {}
    team: Mapping[str, Any] = payload.get("team") or {}
    return source_from_message(
        message,
        channel_id=_text(channel.get("id")) or "",
        workspace_team_id=_text(team.get("id")),
        channel_name=_text(channel.get("name")),
        ts=_text(payload.get("message_ts")),
    )


def source_from_message(
    message: Mapping[str, Any],
    *,
    channel_id: str,
    workspace_team_id: str | None,
    channel_name: str | None = None,
    ts: str | None = None,
) -> SourceMessage:
    """A message as Slack sends it (in a shortcut's payload, or read back with
    conversations.history after a reaction) into a SourceMessage."""
    ts = _text(message.get("ts")) or ts or ""
    return SourceMessage(
        workspace_team_id=workspace_team_id,
        channel_id=channel_id,
        channel_name=channel_name,
        ts=ts,
        thread_ts=_text(message.get("thread_ts")) or ts,
        author_id=_text(message.get("user")),
        # Slack Connect messages carry the author's own workspace as user_team.
        author_team_id=_text(message.get("user_team")) or _text(message.get("team")),
        bot_id=_text(message.get("bot_id")),
        subtype=_text(message.get("subtype")),
        content={key: message[key] for key in CONTENT_KEYS if message.get(key)},
        reply_count=_count(message.get("reply_count")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


OWN_MESSAGE = "That's one of my own messages. Use *Send to Productlane* on the customer's message instead."


def why_not_feedback(source: SourceMessage, *, bot_user_id: str | None, bot_id: str | None) -> str | None:
    """Why this message cannot become feedback, in words for the person who tried; else None."""
    if (bot_id and source.bot_id == bot_id) or (bot_user_id and source.author_id == bot_user_id):
        return OWN_MESSAGE
    if source.subtype in SYSTEM_SUBTYPES:
        return "That's a message Slack wrote itself, so there is no feedback in it to send."
    if not source.content:
        return "That message is empty, so there is nothing to send. Try `/feedback` instead."
    return None

"""Where a message the bot posted for someone landed, and "not now": the words shared by the Slack
side that posts the confirmation and the delivery worker that keeps a record of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PostedMessage:
    """A message the bot posted: enough to find it again (to update it, or to reply under it)."""

    channel: str
    ts: str
    thread_ts: str | None = None
    # Seen by one person only; Slack cannot update it or reply under it later.
    ephemeral: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "ephemeral": self.ephemeral,
        }


class PostLater(Exception):
    """The message could not be posted now for a reason that passes (Slack rate-limited it, had an
    error on its side, or could not be reached): posting it again later will work."""

    def __init__(self, reason: str, retry_after: float | None = None, *, maybe_posted: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        # Slack never answered (a timeout, a dropped connection): it may have posted the message.
        # When Slack answered with an error, it did not.
        self.maybe_posted = maybe_posted

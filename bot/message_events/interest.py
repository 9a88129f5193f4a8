"""What the bot wants from channel messages, held in memory so that deciding costs no database read.

Two sets, each kept current by its owner:
- the channels that capture automatically (the channel settings' cache replaces it on each refresh);
- the Slack threads whose replies are followed (follow-ups add a thread the moment its feedback is
  filed, and replace the whole set from the database now and then, so every replica learns of the
  threads the others filed).

Reads take no lock: a membership test on a set the owner swaps whole is atomic in CPython.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable

from bot.message_events.classify import ChannelMessage, MessageKind

ThreadKey = tuple[str, str]
"""(channel id, the thread's parent ts)"""


class Route(enum.Enum):
    AUTOMATIC = "automatic"
    """A top-level message in a channel that captures automatically."""
    FOLLOW_UP = "follow_up"
    """A reply in a followed thread."""


class Interest:
    """The channels and threads the bot listens to."""

    def __init__(self) -> None:
        self._automatic: frozenset[str] = frozenset()
        self._followed: frozenset[ThreadKey] = frozenset()
        self._changing = threading.Lock()

    # -- the owners' side

    def set_automatic_channels(self, channels: Iterable[str]) -> None:
        self._automatic = frozenset(channels)

    def automatic_channels(self) -> frozenset[str]:
        return self._automatic

    def follow(self, channel: str, thread_ts: str) -> None:
        """Follow one more thread (the one whose feedback was just filed here)."""
        with self._changing:
            self._followed = self._followed | {(channel, thread_ts)}

    def unfollow(self, channel: str, thread_ts: str) -> None:
        with self._changing:
            self._followed = self._followed - {(channel, thread_ts)}

    def set_followed(self, threads: Iterable[ThreadKey]) -> None:
        """Replace the followed threads with what the database says now (every replica's)."""
        fresh = frozenset(threads)
        with self._changing:
            self._followed = fresh

    def followed(self) -> frozenset[ThreadKey]:
        return self._followed

    # -- per event

    def route(self, message: ChannelMessage) -> Route | None:
        """Who wants this message, if anyone. Runs for every message in every channel: two set
        lookups at most."""
        if message.top_level:
            if message.channel in self._automatic:
                return Route.AUTOMATIC
            return None
        if message.thread_ts is not None and (message.channel, message.thread_ts) in self._followed:
            return Route.FOLLOW_UP
        # A reply in a channel that captures automatically is not a new piece of feedback.
        return None

    @staticmethod
    def is_new(message: ChannelMessage) -> bool:
        return message.kind is MessageKind.NEW

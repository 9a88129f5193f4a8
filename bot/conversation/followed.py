"""Which Slack threads are followed, kept current in memory (`Interest`) on every replica.

A thread is followed from the moment its feedback's confirmation is posted — whichever way it was
filed: the modal, a reaction, automatic capture — for `FOLLOWUP_DAYS`, unless its channel's settings
turn follow-ups off. The replica that delivered it follows it at once; every replica reads the
database every `REFRESH_SECONDS` (a count and a time, unless they changed) and so learns of the
others' within a few seconds, and of threads whose window ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.channels.model import ChannelSettingsSource
from bot.conversation.store import FollowedThread, FollowUpStore
from bot.feedback.submission import Submission
from bot.message_events import Interest

__all__ = ["FollowedThreads"]

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0
# The whole set is read again this often even when nothing seems to have changed (a channel's
# settings may have).
FULL_REFRESH_SECONDS = 60.0


class FollowedThreads:
    def __init__(
        self,
        store: FollowUpStore,
        interest: Interest,
        channel_settings: ChannelSettingsSource,
        days: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interest = interest
        self._channels = channel_settings
        self._days = days
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[int, Any] | None = None
        self._refreshed_at: float | None = None
        self._full_at = 0.0

    def allowed_in(self, channel_id: str) -> bool:
        """Whether the channel's settings let follow-ups through (no settings: they do)."""
        found = self._channels.for_channel(channel_id)
        return found is None or found.followups

    def record(self, submission: Submission, result: Mapping[str, Any]) -> None:
        """The feedback's confirmation is posted: follow its Slack thread from now on."""
        source = submission.source
        thread_id = result.get("thread_id")
        if self._days <= 0 or source is None or not isinstance(thread_id, str) or not thread_id:
            return
        now = self._store.now()
        thread = FollowedThread(
            channel_id=source.channel_id,
            thread_ts=source.thread_ts,
            thread_id=thread_id,
            item_key=submission.key,
            filed_at=now,
            follow_until=now + timedelta(days=self._days),
            body_sha256=fingerprint if isinstance(fingerprint := result.get("body_sha256"), str) else None,
        )
        with self._lock:
            recorded = self._store.follow(thread)
            if self.allowed_in(source.channel_id):
                self._interest.follow(source.channel_id, source.thread_ts)
            # Said once it is true here too: a reply that comes after this line is taken.
            if recorded:
                log.info("following the Slack thread of thread %s for %d days", thread_id, self._days)

    def refresh(self, *, force: bool = False) -> bool:
        """Bring the in-memory set up to date when it is due; True when it was read again."""
        now = self._clock()
        if not force and self._refreshed_at is not None and now - self._refreshed_at < REFRESH_SECONDS:
            return False
        with self._lock:
            self._refreshed_at = now
            fingerprint = self._store.followed_fingerprint()
            if not force and fingerprint == self._seen and now - self._full_at < FULL_REFRESH_SECONDS:
                return False
            followed = [key for key in self._store.followed_now() if self.allowed_in(key[0])]
            self._interest.set_followed(followed)
            self._seen = fingerprint
            self._full_at = now
        return True

"""The conversation's background thread: keeps the followed threads current in memory, sends due
follow-ups, and forgets what is settled. It never blocks a Slack ack: it only shares the database
(and Productlane's write budget, behind new feedback) with them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from bot.background import BackgroundThreads, RepeatedFailureLog, idle_until_due
from bot.conversation.followed import REFRESH_SECONDS, FollowedThreads
from bot.conversation.sender import FollowUpSender
from bot.conversation.store import FollowUpStore

__all__ = ["ConversationWorker"]

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0


class ConversationWorker:
    def __init__(
        self,
        store: FollowUpStore,
        followed: FollowedThreads,
        sender: FollowUpSender,
        threads: BackgroundThreads,
        *,
        copies_kept: timedelta,
        retention: timedelta | None = None,
        idle_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._followed = followed
        self._sender = sender
        self._threads = threads
        self._copies_kept = copies_kept
        self._retention = retention
        self._idle = min(idle_interval, REFRESH_SECONDS)
        self._clock = clock
        self._refresh_failures = RepeatedFailureLog(log, "reading the followed threads")
        self._send_failures = RepeatedFailureLog(log, "sending follow-ups")
        self._pruned_at: float | None = None

    def wake(self) -> None:
        self._threads.wake.set()

    def start(self) -> None:
        # The followed threads are known before the first event can ask.
        try:
            self._followed.refresh(force=True)
        except Exception as error:
            self._refresh_failures.failed(error)
        self._threads.start([("conversation", self._run)])

    def stop(self, timeout: float = 10.0) -> None:
        self._threads.stop(timeout)

    def problems(self) -> list[str]:
        if self._threads.any_died():
            return ["the follow-ups worker has stopped; restart the bot"]
        return []

    def run_once(self) -> bool:
        """Refresh what is followed when due, then send one due batch; True when one went."""
        try:
            self._followed.refresh()
        except Exception as error:
            self._refresh_failures.failed(error)
        else:
            self._refresh_failures.worked()
        try:
            worked = self._sender.send_due()
            self._prune_now_and_then()
        except Exception as error:
            self._send_failures.failed(error)
            return False
        self._send_failures.worked()
        return worked

    def _run(self) -> None:
        while not self._threads.stopping.is_set():
            if not self.run_once():
                self._threads.idle(self._until_next_pass())

    def _until_next_pass(self) -> float:
        """The idle interval, or less when a thread comes due sooner: its follow-ups gathered, its
        spacing or a retry's wait over. Waiting out the whole interval would add up to that much
        to every follow-up's way to Productlane. A thread already due that was not sent (a paused
        key, new feedback going first) is looked at again after the idle interval, as before."""
        try:
            due_in = self._sender.seconds_until_due()
        except Exception as error:
            self._send_failures.failed(error)
            return self._idle
        return idle_until_due(due_in, self._idle)

    def _prune_now_and_then(self) -> None:
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        gone = self._store.prune(self._store.now() - self._copies_kept, self._retention)
        if gone:
            log.info("follow-ups: forgot %d settled rows", gone)

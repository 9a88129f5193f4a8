"""After the outbox was away for longer than Slack keeps retrying, read back what Slack gave up on.

A channel message is acked only once it is kept, so while the database is away Slack sends each
event again: at once, after about a minute and after about five. An outage longer than that loses
the events themselves, though not the messages: they are still in Slack. So when a message is
kept again after an outage of at least `MIN_OUTAGE_SECONDS`, the channels that capture
automatically are read back from `conversations.history`, and the followed threads from
`conversations.replies`, from a little before the first failure; every message found goes through
the same path as its event would have. What was kept already is kept once (each is keyed by its
channel and ts), so reading a message twice costs a lookup, never a second thread or follow-up.
A followed thread is read only when its parent, in the channel's history, shows a reply since the
outage began: a channel with hundreds of followed threads costs a few pages of history, not a call
for each.

What this does not bring back: edits and deletions made during the outage (the history shows the
message as it is now, and it is kept as such when it was missed), and an outage that this process
did not see (it was restarted meanwhile): the docs say so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.message_events.interest import Interest

log = logging.getLogger(__name__)

# Shorter outages are covered by Slack's own retries of the events, which arrive after it.
MIN_OUTAGE_SECONDS = 30.0
# Read from this long before the first failure: the failing event's message may be older than the
# failure by Slack's delivery delay, and the two clocks differ a little.
MARGIN_SECONDS = 60.0
# While the database is still away, the next try comes this much later.
RETRY_SECONDS = 15.0
PAGE = 200
# A channel that posted more than this many messages in the outage is read up to here: the log
# says so, rather than the catch-up keeping Slack's rate limit busy for an hour.
MAX_PAGES = 25
RATE_LIMIT_WAIT_MAX = 60.0
# How often an untroubled bot asks the database whether it is there (a `SELECT 1`).
PING_EVERY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CaughtUp:
    channels: int
    threads: int
    messages: int
    """Messages read back and handed on (those kept already count too)."""


class CatchUp:
    """Watches whether channel messages could be kept, and reads back what an outage lost."""

    def __init__(
        self,
        client: WebClient,
        interest: Interest,
        handle: Callable[[Mapping[str, Any]], object],
        team_id: str | None,
        *,
        min_outage_seconds: float = MIN_OUTAGE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._interest = interest
        self._handle = handle
        self._team_id = team_id
        self._min_outage = min_outage_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failing_since: float | None = None
        self._pinged_at = float("-inf")
        self._due_from: float | None = None
        self._running: threading.Thread | None = None
        self.stopping = threading.Event()

    # -- what the message path reports

    def failed(self) -> None:
        """A message could not be kept (its event goes unacked)."""
        with self._lock:
            if self._failing_since is None:
                self._failing_since = self._clock()

    def worked(self) -> None:
        """A message was kept: if that ends a long enough outage, read back what it lost."""
        if self._failing_since is None:  # the per-message cost when all is well: one attribute read
            return
        with self._lock:
            since, self._failing_since = self._failing_since, None
            if since is None or self._clock() - since < self._min_outage:
                return
            oldest = since - MARGIN_SECONDS
            self._due_from = oldest if self._due_from is None else min(self._due_from, oldest)
            if self._running is not None and self._running.is_alive():
                return
            self._running = threading.Thread(target=self._run, name="message-catch-up", daemon=True)
            self._running.start()

    def tick(self, ping: Callable[[], object]) -> None:
        """About once a second, from the main thread. During an outage: whether the database is
        back though no channel message has come since (a quiet workspace must catch up too).
        Otherwise, every few seconds: whether it is away though no message has told — behind a
        load balancer that follows /readyz, an unready replica gets no events to fail, yet Slack
        gives up on those it sent elsewhere."""
        now = self._clock()
        if self._failing_since is None and now - self._pinged_at < PING_EVERY_SECONDS:
            return
        self._pinged_at = now
        try:
            ping()
        except Exception:
            self.failed()
            return
        self.worked()

    def stop(self) -> None:
        self.stopping.set()

    # -- reading back

    def _run(self) -> None:
        while not self.stopping.is_set():
            with self._lock:
                oldest, self._due_from = self._due_from, None
            if oldest is None:
                return
            started = time.monotonic()
            try:
                done = self.catch_up(oldest)
            except Exception as error:
                with self._lock:
                    self._due_from = oldest if self._due_from is None else min(self._due_from, oldest)
                log.warning(
                    "catching up on channel messages failed (%s); trying again in %.0f s",
                    type(error).__name__,
                    RETRY_SECONDS,
                )
                self.stopping.wait(RETRY_SECONDS)
                continue
            log.info(
                "caught up after the outage: %d message(s) read back from %d channel(s) and %d "
                "thread(s) in %.1f s",
                done.messages,
                done.channels,
                done.threads,
                time.monotonic() - started,
            )

    def catch_up(self, oldest: float) -> CaughtUp:
        """Hand every message since `oldest` (a Unix time) in the automatic channels and the
        followed threads to the message path. Raises when it could not keep one."""
        since = f"{oldest:.6f}"
        channels = sorted(self._interest.automatic_channels())
        messages = 0
        for channel in channels:
            for message in self._pages("conversations_history", channel=channel, oldest=since):
                messages += self._hand_on(channel, message)
        wanted: dict[str, set[str]] = {}
        for channel, thread_ts in self._interest.followed():
            wanted.setdefault(channel, set()).add(thread_ts)
        threads = 0
        for channel in sorted(wanted):
            for thread_ts in self._threads_with_replies_since(channel, wanted[channel], oldest):
                threads += 1
                for message in self._pages(
                    "conversations_replies", channel=channel, ts=thread_ts, oldest=since
                ):
                    if message.get("ts") != thread_ts:  # Slack lists the parent first, whatever `oldest`
                        messages += self._hand_on(channel, message)
        return CaughtUp(len(channels), threads, messages)

    def _threads_with_replies_since(self, channel: str, wanted: set[str], oldest: float) -> list[str]:
        """Which of a channel's followed threads had a reply since `oldest`. A thread's parent in
        the channel's history says when its latest reply came (`latest_reply`), so one page of
        history answers for up to 200 threads instead of a `conversations.replies` call each; a
        followed thread whose parent the history did not show (deleted, or past the pages read) is
        read itself."""
        first = min(float(ts) for ts in wanted)
        seen: set[str] = set()
        active: list[str] = []
        for message in self._pages("conversations_history", channel=channel, oldest=f"{first - 1:.6f}"):
            ts = str(message.get("ts") or "")
            if ts not in wanted:
                continue
            seen.add(ts)
            if float(str(message.get("latest_reply") or 0)) > oldest:
                active.append(ts)
        return sorted([*active, *(wanted - seen)], key=float)

    def _hand_on(self, channel: str, message: Mapping[str, Any]) -> int:
        if self.stopping.is_set():
            return 0
        event = {**message, "type": "message", "channel": channel}
        self._handle({"type": "event_callback", "team_id": self._team_id, "event": event})
        return 1

    def _pages(self, method: str, **params: str) -> Iterator[Mapping[str, Any]]:
        """The messages of one conversation, oldest first, page by page; nothing when Slack will
        not show it (the bot was removed, the thread deleted)."""
        cursor: str | None = None
        for page in range(MAX_PAGES):
            try:
                answer = self._call(method, limit=PAGE, inclusive=False, cursor=cursor, **params)
            except SlackApiError as error:
                if error.response.status_code >= 500:
                    raise  # Slack's trouble, not a refusal: the whole catch-up is tried again
                log.info("catch-up skipped %s: %s", params.get("channel"), error.response.get("error"))
                return
            found = answer.get("messages")
            listed = [m for m in found if isinstance(m, Mapping)] if isinstance(found, list) else []
            # History is newest first; replies are oldest first.
            yield from sorted(listed, key=lambda m: float(str(m.get("ts") or 0)))
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not answer.get("has_more", bool(cursor)):
                return
            if page == MAX_PAGES - 1:
                log.warning("catch-up read %d messages of %s and stopped there", PAGE * MAX_PAGES, params)

    def _call(self, method: str, **params: Any) -> Any:
        """One Web API call, waiting out Slack's rate limit (a catch-up is in no hurry)."""
        while True:
            try:
                return getattr(self._client, method)(**{k: v for k, v in params.items() if v is not None})
            except SlackApiError as error:
                if error.response.status_code != 429 or self.stopping.is_set():
                    raise
                wait = float(error.response.headers.get("Retry-After", 5) or 5)
                self.stopping.wait(min(wait, RATE_LIMIT_WAIT_MAX))

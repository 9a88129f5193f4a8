"""The delivery worker: sends accepted submissions from the outbox to Productlane, exactly once.

- Within Productlane's write limit, shared through the outbox's database by every replica.
- Retries what retrying can fix (429 after Retry-After, 5xx, network) with backoff and jitter, forever:
  an acked submission is never dropped. Stops on refusals retrying cannot fix, and tells the submitter.
- Productlane has no idempotency key, so after an attempt whose outcome is unknown (a timeout or 5xx
  after the request was sent, or a crash mid-send) it looks for the thread before sending again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import ValidationError as ModelValidationError

from bot.delivery.outbox import Outbox, OutboxItem
from bot.delivery.sent import record_sent
from bot.feedback.submission import Submission
from bot.productlane import (
    CreateThread,
    NetworkError,
    OutcomeUnknownError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ServerError,
    Thread,
)

log = logging.getLogger(__name__)

KIND = "create_thread"
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0
# How far before our first attempt a thread Productlane created may be stamped (clock skew).
SEARCH_MARGIN = timedelta(minutes=5)
SEARCH_PAGES = 5


class Composer(Protocol):
    def compose(self, submission: Submission) -> CreateThread: ...


class Notifier(Protocol):
    def delivered(self, submission: Submission, request: CreateThread, thread_url: str) -> None: ...

    def delayed(self, submission: Submission) -> None: ...

    def failed(self, submission: Submission, item_id: str, problem: str) -> None: ...


def backoff_seconds(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter in [base/2, base]: 2 s, 4 s, 8 s … capped at 5 min."""
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, attempts - 1))
    return base / 2 + base / 2 * rng()


def same_thread(thread: Thread, request: CreateThread, reference: str) -> bool:
    """Is this thread the one an earlier, unconfirmed attempt of `request` created?

    Title and contact alone are not enough (two messages may both start "Hi team,"): the body
    carries the submission's reference, which no other submission has.
    """
    email = thread.contact.email if thread.contact else None
    return (
        reference in (thread.text or "")
        and (thread.title or "") == (request.title or "")
        and (email or "").lower() == str(request.contact_email).lower()
    )


class DeliveryWorker:
    """Sender threads that claim outbox items and deliver them."""

    def __init__(
        self,
        outbox: Outbox,
        productlane: ProductlaneClient,
        composer: Composer,
        notifier: Notifier,
        thread_url: Callable[[str], str],
        *,
        limiter_key: str,
        senders: int = 4,
        rate_per_minute: int = 60,
        # Steady 1/s, no burst: Productlane counts a rolling minute, and a burst of 10 on top of
        # 60/min lets 70 through in the first minute (429s measured by bench_ack).
        burst: int = 1,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        owner: str | None = None,
        backoff: Callable[[int], float] = backoff_seconds,
    ) -> None:
        self._outbox = outbox
        self._productlane = productlane
        self._composer = composer
        self._notifier = notifier
        self._thread_url = thread_url
        self._limiter_key = limiter_key
        self._senders = senders
        self._rate = rate_per_minute
        self._burst = burst
        self._lease = lease_seconds
        self._poll = poll_interval
        self._backoff = backoff
        self.owner = owner or f"worker-{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- running -------------------------------------------------------------------------------
    def wake(self) -> None:
        """A new item is in the outbox: stop waiting for the next poll."""
        self._wake.set()

    def start(self) -> None:
        for index in range(self._senders):
            thread = threading.Thread(target=self._run, name=f"delivery-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the sends under way (an item half-sent is settled by the next start anyway)."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def problems(self) -> list[str]:
        """What keeps delivery from working right now, for /readyz and `check` (empty: all well)."""
        if self._threads and not all(thread.is_alive() for thread in self._threads):
            return ["the delivery worker has stopped; restart the bot"]
        if not self._threads and not self._stopping.is_set():
            return ["the delivery worker is not running"]
        return []

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered_any = self.deliver_due(limit=1) > 0
            except Exception:
                log.exception("delivery pass failed; trying again shortly")
                delivered_any = False
            if not delivered_any:
                self._wake.wait(self._poll)
                self._wake.clear()

    def _claimer(self) -> str:
        # Leases belong to one sender thread, not the worker: two threads of one worker must never
        # both hold an item (one whose lease ran out, one that claimed it afterwards).
        return f"{self.owner}/{threading.current_thread().name}"

    def deliver_due(self, limit: int = 10) -> int:
        """Claim up to `limit` due items and settle each. Returns how many were claimed."""
        items = self._outbox.claim(self._claimer(), limit=limit, lease_seconds=self._lease)
        for item in items:
            self._settle(item)
        return len(items)

    # --- one item ------------------------------------------------------------------------------
    def _settle(self, item: OutboxItem) -> None:
        try:
            submission = Submission.model_validate(item.payload)
        except ModelValidationError:
            log.error("outbox item %s is unreadable; marking it failed", item.id)
            self._outbox.mark_failed(item.id, self._claimer(), "unreadable payload")
            return
        try:
            request = self._composer.compose(submission)
        except ModelValidationError as error:
            problem = "; ".join(str(e["msg"]) for e in error.errors(include_input=False))
            self._fail(item, submission, f"the feedback could not be composed ({problem}).")
            return
        except Exception:
            log.exception("composing item %s failed; will retry", item.id)
            self._retry(item, submission, "compose failed", notify=_age(item) > 60, before_send=True)
            return
        if item.first_sent_at is not None:
            # An earlier attempt may have created the thread: look before sending again.
            try:
                existing = self._find_existing(request, submission.reference, item.first_sent_at)
            except ProductlaneError as error:
                self._retry(item, submission, f"search: {error.code}", notify=True, before_send=True)
                return
            if existing is not None:
                log.info("item %s: found thread %s from an earlier attempt", item.id, existing.id)
                self._delivered(item, submission, request, existing)
                return
        if not self._wait_for_write_slot(item):
            return
        if not self._outbox.mark_attempt(item.id, self._claimer(), lease_seconds=self._lease):
            log.warning("item %s: lease lost before sending; another worker has it", item.id)
            return
        try:
            thread = self._productlane.create_thread(request)
        except RateLimitedError as error:
            wait = error.retry_after if error.retry_after is not None else 60.0
            self._outbox.pause_writes(self._limiter_key, _now() + timedelta(seconds=wait))
            self._retry(item, submission, "rate_limited", notify=item.attempts >= 3, delay=wait)
        except (NetworkError, OutcomeUnknownError, ServerError) as error:
            self._retry(item, submission, error.code or type(error).__name__, notify=True)
        except ProductlaneError as error:
            self._fail(item, submission, error.user_message)
        else:
            self._delivered(item, submission, request, thread)

    def _wait_for_write_slot(self, item: OutboxItem) -> bool:
        """Hold the item until the shared limiter allows a write; give it back if that is long."""
        while True:
            wait = self._outbox.reserve_write_slot(
                self._limiter_key, rate_per_minute=self._rate, burst=self._burst
            )
            if wait <= 0:
                return True
            if wait > self._lease / 2 or self._stopping.is_set():
                self._outbox.schedule_retry(
                    item.id, self._claimer(), _now() + timedelta(seconds=wait), "waiting for rate limit"
                )
                return False
            time.sleep(wait)

    def _find_existing(self, request: CreateThread, reference: str, first_sent_at: datetime) -> Thread | None:
        cursor: str | None = None
        for _ in range(SEARCH_PAGES):
            page = self._productlane.list_threads(
                created_after=first_sent_at - SEARCH_MARGIN,
                origin=request.origin.value if request.origin else None,
                limit=200,
                cursor=cursor,
            )
            for thread in page.data:
                if same_thread(thread, request, reference):
                    return thread
            if not page.page.has_more or not page.page.cursor:
                return None
            cursor = page.page.cursor
        return None

    def _delivered(
        self, item: OutboxItem, submission: Submission, request: CreateThread, thread: Thread
    ) -> None:
        url = self._thread_url(thread.id)
        if not self._outbox.mark_delivered(item.id, self._claimer(), {"thread_id": thread.id, "url": url}):
            log.warning("item %s: lease lost before it was marked delivered", item.id)
        if submission.source is not None:
            # The duplicate guard's record: the next person to point at this message is told.
            record_sent(
                self._outbox,
                submission.source.channel_id,
                submission.source.ts,
                thread_id=thread.id,
                thread_url=url,
                submitter_id=submission.submitter_id,
            )
        log.info("item %s delivered as thread %s", item.id, thread.id)
        try:
            self._notifier.delivered(submission, request, url)
        except Exception:
            log.exception("item %s: delivered, but the Slack reply failed", item.id)

    def _retry(
        self,
        item: OutboxItem,
        submission: Submission,
        reason: str,
        *,
        notify: bool,
        delay: float | None = None,
        before_send: bool = False,
    ) -> None:
        if delay is not None:
            wait = delay
        elif before_send:
            # No attempt was counted, so back off by how long the item has waited instead.
            wait = min(BACKOFF_MAX, max(BACKOFF_FIRST, _age(item) / 4))
        else:
            wait = self._backoff(item.attempts + 1)
        log.info("item %s: %s; retrying in %.1f s", item.id, reason, wait)
        self._outbox.schedule_retry(item.id, self._claimer(), _now() + timedelta(seconds=wait), reason)
        # Only the one worker whose call sets the flag tells the submitter, so they hear it once.
        if notify and not item.delayed_notice_sent and self._outbox.mark_delayed_notice_sent(item.id):
            try:
                self._notifier.delayed(submission)
            except Exception:
                log.exception("item %s: could not send the delay notice", item.id)

    def _fail(self, item: OutboxItem, submission: Submission, problem: str) -> None:
        log.warning("item %s refused by Productlane: %s", item.id, problem)
        self._outbox.mark_failed(item.id, self._claimer(), problem[:500])
        try:
            self._notifier.failed(submission, str(item.id), problem)
        except Exception:
            log.exception("item %s: could not tell the submitter about the refusal", item.id)


def _now() -> datetime:
    return datetime.now(UTC)


def _age(item: OutboxItem) -> float:
    return (_now() - item.created_at).total_seconds()

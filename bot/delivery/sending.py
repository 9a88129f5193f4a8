"""What every job of the delivery worker does with an item it has claimed: hold its lease, wait for
a slot in the shared write limit, give it back to be retried later, or fail it and say why."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.budgets.write_limits import WriteLimits
from bot.delivery.outbox import Outbox, OutboxItem
from bot.delivery.wiring import BACKOFF_FIRST, BACKOFF_MAX, Notifier, WorkerSettings
from bot.feedback.submission import Submission
from bot.productlane import ProductlaneClient

# Every part of the worker logs under the worker's name, so its lines stay found by one name.
WORKER_LOGGER = "bot.delivery.worker"

log = logging.getLogger(WORKER_LOGGER)


def now() -> datetime:
    return datetime.now(UTC)


def age(item: OutboxItem) -> float:
    return (now() - item.created_at).total_seconds()


class Sending:
    """The outbox, Productlane and the submitter, as each job of the worker meets them."""

    def __init__(
        self,
        outbox: Outbox,
        productlane: ProductlaneClient,
        notifier: Notifier,
        settings: WorkerSettings,
        stopping: threading.Event,
    ) -> None:
        self.outbox = outbox
        self.productlane = productlane
        self.notifier = notifier
        self.settings = settings
        self.limits = WriteLimits(outbox.database)
        self.owner = settings.owner or f"worker-{uuid.uuid4().hex[:8]}"
        self.stopping = stopping

    def claimer(self) -> str:
        # Leases belong to one sender thread, not the worker: two threads of one worker must never
        # both hold an item (one whose lease ran out, one that claimed it afterwards).
        return f"{self.owner}/{threading.current_thread().name}"

    def pause_writes(self, seconds: float) -> None:
        """Productlane said 429: no replica writes for ``seconds``."""
        self.limits.pause_writes(self.settings.limiter_key, now() + timedelta(seconds=seconds))

    def wait_for_write_slot(self, item: OutboxItem) -> bool:
        """Hold the item until the shared limiter allows a write; give it back if that is long."""
        settings = self.settings
        while True:
            wait = self.limits.reserve_write_slot(
                settings.limiter_key, rate_per_minute=settings.rate_per_minute, burst=settings.burst
            )
            if wait <= 0:
                return True
            if wait > settings.lease_seconds / 2 or self.stopping.is_set():
                self.outbox.schedule_retry(
                    item.id, self.claimer(), now() + timedelta(seconds=wait), "waiting for rate limit"
                )
                return False
            time.sleep(wait)

    def retry(
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
            wait = min(BACKOFF_MAX, max(BACKOFF_FIRST, age(item) / 4))
        else:
            wait = self.settings.backoff(item.attempts + 1)
        log.info("item %s: %s; retrying in %.1f s", item.id, reason, wait)
        metrics.delivery_retried()
        self.outbox.schedule_retry(item.id, self.claimer(), now() + timedelta(seconds=wait), reason)
        # Only the one worker whose call sets the flag tells the submitter, so they hear it once.
        if notify and not item.delayed_notice_sent and self.outbox.mark_delayed_notice_sent(item.id):
            try:
                self.notifier.delayed(submission)
            except Exception:
                log.exception("item %s: could not send the delay notice", item.id)

    def fail(self, item: OutboxItem, submission: Submission, problem: str) -> None:
        log.warning("item %s refused by Productlane: %s", item.id, problem)
        metrics.delivery_refused(item.created_at)
        self.outbox.mark_failed(item.id, self.claimer(), problem[:500])
        try:
            self.notifier.failed(submission, str(item.id), problem)
        except Exception:
            log.exception("item %s: could not tell the submitter about the refusal", item.id)

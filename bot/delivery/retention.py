"""How long the outbox keeps what it has settled, and the janitor that purges the rest.

Delivered items hold customers' words (the message, the form); once their thread exists in
Productlane they are only history. They are deleted `OUTBOX_RETENTION_DAYS` after delivery, and
unsubmitted modal drafts after a week (or the retention, if shorter). Failed and pending items are
never purged: they still need someone. What other features keep for someone to act on and let go
after the same retention (the flood limits' held items) is purged by the same job: each hands in a
purge of its own (`also`), called with the cut-off. The duplicate guard's records (`sent_messages`: channel,
message ts, thread link, who sent it and when — no text) are kept, so "already sent" stays true.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.delivery.copies import purge_copies
from bot.delivery.drafts import KEEP_FOR as DRAFTS_KEEP_FOR
from bot.delivery.outbox import Outbox
from bot.delivery.schema import modal_drafts

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 90
PURGE_EVERY = timedelta(hours=6)
FIRST_PURGE_AFTER = timedelta(minutes=1)  # not during start-up, when the first acks arrive


Purge = Callable[[datetime], int]
"""Deletes what its feature keeps from before the cut-off; how many it deleted."""


@dataclass(frozen=True)
class PurgeResult:
    delivered_items: int
    drafts: int
    others: int = 0
    """What the other features' purges (`also`) deleted."""


def purge(
    outbox: Outbox, retention: timedelta, *, now: datetime | None = None, also: Sequence[Purge] = ()
) -> PurgeResult:
    """Delete delivered items older than `retention`, stale drafts, and what ``also`` purges from
    before the same cut-off; returns how many."""
    at = now or datetime.now(UTC)
    delivered = outbox.purge_delivered(at - retention)
    drafts_before = at - min(retention, DRAFTS_KEEP_FOR)
    with outbox.database.writing() as connection:
        drafts = int(
            connection.execute(
                sa.delete(modal_drafts).where(modal_drafts.c.created_at < drafts_before)
            ).rowcount
        )
    purge_copies(outbox.database, now=at)
    others = sum(other(at - retention) for other in also)
    return PurgeResult(delivered, drafts, others)


class RetentionJanitor:
    """Purges a minute after start, then every six hours. Every replica may run one: a purge that
    finds nothing to delete costs one indexed query.

    It owns no thread while it waits: whoever keeps time (the process's main thread) calls `tick`
    every second or so, and a due purge runs in a thread of its own that ends with it.
    """

    def __init__(
        self,
        outbox: Outbox,
        retention: timedelta,
        *,
        clock: Callable[[], float] = time.monotonic,
        also: Sequence[Purge] = (),
    ) -> None:
        self._outbox = outbox
        self._retention = retention
        self._also = tuple(also)
        self._clock = clock
        self._next_at = clock() + FIRST_PURGE_AFTER.total_seconds()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """Start a purge if one is due and none is under way; True when it started one."""
        if self._clock() < self._next_at or (self._thread is not None and self._thread.is_alive()):
            return False
        self._next_at = self._clock() + PURGE_EVERY.total_seconds()
        self._thread = threading.Thread(target=self.purge_now, name="retention", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Wait (a while) for a purge under way: each batch is its own transaction."""
        if self._thread is not None:
            self._thread.join(timeout=10)

    def purge_now(self) -> PurgeResult | None:
        try:
            result = purge(self._outbox, self._retention, also=self._also)
        except Exception:
            log.exception("purging old outbox items failed; trying again later")
            return None
        if result.delivered_items or result.drafts or result.others:
            log.info(
                "purged %d delivered item(s), %d draft(s) and %d held item(s) older than the retention "
                "period",
                result.delivered_items,
                result.drafts,
                result.others,
            )
        return result

"""How long the outbox keeps what it has settled, and the janitor that purges the rest.

Delivered items hold customers' words (the message, the form); once their thread exists in
Productlane they are only history. They are deleted `OUTBOX_RETENTION_DAYS` after delivery, and
unsubmitted modal drafts after a week (or the retention, if shorter). Failed and pending items are
never purged: they still need someone. What other features keep for someone to act on and let go
after the same retention (the flood limits' held items) is purged by the same job: each hands in a
purge of its own (`also`), called with the cut-off. The duplicate guard's records (`sent_messages`: channel,
message ts, thread link, who sent it and when — no text) are kept, so "already sent" stays true.

What other features keep of a delivered submission goes with it: the composition hands `purge` (and
`RetentionJanitor`) each feature's forgetting step (`Forget`), called with the same cutoff — e.g. the
words of a confirmation kept to render it again with a status (title, contact, triage names).
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


Forget = Callable[[datetime], int]
"""Another feature's step of the purge: forget what it keeps of submissions delivered before the
cutoff it is given; returns how many records it changed."""

Purge = Callable[[datetime], int]
"""Deletes what its feature keeps from before the cut-off; how many it deleted."""


@dataclass(frozen=True)
class PurgeResult:
    delivered_items: int
    drafts: int
    forgotten: int = 0
    """Records other features forgot with the purged submissions (e.g. confirmations)."""
    others: int = 0
    """What the other features' purges (`also`) deleted."""


def purge(
    outbox: Outbox,
    retention: timedelta,
    *,
    now: datetime | None = None,
    forget: Sequence[Forget] = (),
    also: Sequence[Purge] = (),
) -> PurgeResult:
    """Delete delivered items older than `retention` and stale drafts, have every ``forget`` step
    forget what it keeps of them, and what ``also`` purges from before the same cut-off; returns
    how many."""
    at = now or datetime.now(UTC)
    cutoff = at - retention
    delivered = outbox.purge_delivered(cutoff)
    forgotten = sum(step(cutoff) for step in forget)
    drafts_before = at - min(retention, DRAFTS_KEEP_FOR)
    with outbox.database.writing() as connection:
        drafts = int(
            connection.execute(
                sa.delete(modal_drafts).where(modal_drafts.c.created_at < drafts_before)
            ).rowcount
        )
    purge_copies(outbox.database, now=at)
    others = sum(other(cutoff) for other in also)
    return PurgeResult(delivered, drafts, forgotten, others)


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
        forget: Sequence[Forget] = (),
        clock: Callable[[], float] = time.monotonic,
        also: Sequence[Purge] = (),
    ) -> None:
        self._outbox = outbox
        self._retention = retention
        self._forget = tuple(forget)
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
            result = purge(self._outbox, self._retention, forget=self._forget, also=self._also)
        except Exception:
            log.exception("purging old outbox items failed; trying again later")
            return None
        if result.delivered_items or result.drafts or result.forgotten or result.others:
            log.info(
                "purged %d delivered item(s), %d draft(s), the words of %d confirmation(s) and %d held "
                "item(s) older than the retention period",
                result.delivered_items,
                result.drafts,
                result.forgotten,
                result.others,
            )
        return result

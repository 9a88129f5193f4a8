"""How delivery stands, read from the shared database: items by state, the oldest still waiting, and
whether writes are paused because Productlane refuses the key. The App Home shows it to admins and
`/metrics` exports it; every replica reads the same rows, so their numbers agree.

One statement reads the items (each count an index range), and the pause is asked of the shared
budgets (`KeyPause`, by its primary key); `DeliveryHealthReader` answers from its last read for a few
seconds: however often scrapes and Home tabs ask, the database sees those two queries per few
seconds per replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.budgets.key_pause import KeyPause
from bot.delivery.outbox import Outbox, Status
from bot.delivery.schema import items

__all__ = ["CACHE_SECONDS", "DeliveryHealth", "DeliveryHealthReader", "PausedDelivery", "read_health"]

CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class PausedDelivery:
    """Writes are paused on every replica: Productlane refuses the bot's API key."""

    code: str
    reason: str
    """What the operator must fix, in words (never key material)."""
    since: datetime


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    counts: Mapping[Status, int]
    """Items in each state (every `Status`, zeros included)."""
    oldest_waiting_since: datetime | None
    """When the oldest item not yet delivered (pending or sending) was accepted; None: none waits."""
    paused: PausedDelivery | None
    read_at: datetime
    """The database's time of the read."""
    failed: int = field(init=False)
    waiting: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failed", self.counts.get(Status.FAILED, 0))
        object.__setattr__(
            self, "waiting", self.counts.get(Status.PENDING, 0) + self.counts.get(Status.SENDING, 0)
        )

    def oldest_waiting_seconds(self, now: datetime | None = None) -> float:
        """How long the oldest waiting item has waited (0 when nothing waits)."""
        if self.oldest_waiting_since is None:
            return 0.0
        return max(0.0, ((now or self.read_at) - self.oldest_waiting_since).total_seconds())


def _count(where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
    return sa.select(sa.func.count()).select_from(items).where(where).scalar_subquery()


def _health_query() -> sa.Select[Any]:
    superseded = items.c.superseded_by.is_not(None)
    failed = items.c.status == Status.FAILED.value

    def oldest(status: Status) -> sa.ScalarSelect[Any]:
        # A range of the (status, …) index and its rows: few, unless a backlog waits. (Not min(id)
        # of both states at once: PostgreSQL walks the primary key for that, through every row.)
        return (
            sa.select(sa.func.min(items.c.created_at)).where(items.c.status == status.value).scalar_subquery()
        )

    return sa.select(
        _count(items.c.status == Status.PENDING.value),
        _count(items.c.status == Status.SENDING.value),
        _count(items.c.status == Status.DELIVERED.value),
        _count(sa.and_(failed, ~superseded)),
        _count(sa.and_(failed, superseded)),
        oldest(Status.PENDING),
        oldest(Status.SENDING),
    )


def read_health(outbox: Outbox, limiter_key: str, *, now: datetime | None = None) -> DeliveryHealth:
    """Delivery as it stands now: the items in one statement, then the pause. ``limiter_key``: the
    write budget whose pause counts (``productlane:<team id>``, as the worker uses it)."""
    with outbox.database.reading() as conn:
        row = conn.execute(_health_query()).one()
    pending, sending, delivered, failed, superseded, oldest_pending, oldest_sending = row
    problem = KeyPause(outbox.database).key_problem(limiter_key)
    counts = {
        Status.PENDING: int(pending),
        Status.SENDING: int(sending),
        Status.DELIVERED: int(delivered),
        Status.FAILED: int(failed),
        Status.SUPERSEDED: int(superseded),
    }
    paused = PausedDelivery(problem.code, problem.message, problem.since) if problem is not None else None
    # created_at's type (UtcMicros) already made datetimes of them.
    oldest = min((at for at in (oldest_pending, oldest_sending) if at is not None), default=None)
    return DeliveryHealth(counts, oldest, paused, outbox.database.now(now))


class DeliveryHealthReader:
    """`read_health`, answered from the last read for `max_age` seconds. Thread-safe: callers
    arriving while a read runs wait for it instead of reading too."""

    def __init__(
        self,
        outbox: Outbox,
        limiter_key: str,
        *,
        max_age: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._key = limiter_key
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, DeliveryHealth] | None = None

    def read(self) -> DeliveryHealth:
        with self._lock:
            if self._last is not None and self._clock() - self._last[0] < self._max_age:
                return self._last[1]
            health = read_health(self._outbox, self._key)
            self._last = (self._clock(), health)
            return health

    def forget(self) -> None:
        """The next read goes to the database (e.g. after a change the reader must show)."""
        with self._lock:
            self._last = None

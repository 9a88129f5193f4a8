"""A send-rate limiter shared by every process using the outbox's database: GCRA, a token bucket kept
as one row per key, read and written under a row lock."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.budgets.schema import write_limits
from bot.db import Database
from bot.db.types import to_micros

__all__ = ["WriteLimits"]


class WriteLimits:
    """Write (or read) budgets per key, shared by every replica on the outbox's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def reserve_write_slot(
        self,
        key: str,
        rate_per_minute: float = 60,
        burst: int = 10,
        *,
        now: datetime | None = None,
    ) -> float:
        """0.0 when the caller may send now (the slot is taken), else seconds to wait first.

        A GCRA token bucket per ``key`` (use a non-secret name for the API key, never the key):
        ``burst`` sends at once, then one every ``60 / rate_per_minute`` s, so any window of
        ``w`` seconds holds at most ``burst + w * rate_per_minute / 60`` sends, counted over all
        processes: the bucket is one row, read and written under a row lock
        (``SELECT … FOR UPDATE`` on PostgreSQL, a ``BEGIN IMMEDIATE`` transaction on SQLite).
        After a `pause_writes`, sending resumes one at a time, not in a burst.
        """
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        interval = math.ceil(60_000_000 / rate_per_minute)  # microseconds between sends
        tolerance = (burst - 1) * interval
        with self._db.writing() as conn:
            row = self._limit_row(conn, key)
            # The time is read once the lock is held, so the row sees its writers in order.
            now_us = to_micros(self._db.now(now))
            tat = max(int(row.tat_us), now_us, int(row.paused_until_us) + tolerance)
            if tat - now_us > tolerance:
                return (tat - now_us - tolerance) / 1_000_000
            conn.execute(
                sa.update(write_limits).where(write_limits.c.key == key).values(tat_us=tat + interval)
            )
            return 0.0

    def pause_writes(self, key: str, until: datetime) -> None:
        """No slot for ``key`` before ``until`` in any process (e.g. after a 429 Retry-After)."""
        until_us = to_micros(self._db.now(until))
        with self._db.writing() as conn:
            row = self._limit_row(conn, key)
            if until_us > int(row.paused_until_us):
                conn.execute(
                    sa.update(write_limits).where(write_limits.c.key == key).values(paused_until_us=until_us)
                )

    def _limit_row(self, conn: Connection, key: str) -> sa.Row[Any]:
        if not key or len(key) > 255:
            raise ValueError("key must be 1..255 characters")
        query = sa.select(write_limits).where(write_limits.c.key == key).with_for_update()
        row = conn.execute(query).one_or_none()
        if row is None:
            conn.execute(
                self._db.insert_for(write_limits)
                .values(key=key, tat_us=0, paused_until_us=0)
                .on_conflict_do_nothing(index_elements=[write_limits.c.key])
            )
            row = conn.execute(query).one()
        return row

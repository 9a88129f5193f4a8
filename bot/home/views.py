"""Whose Home is open, and whose is out of date: the ``home_views`` rows, shared by every replica.

A change to someone's submission marks their Home stale if they opened it in the last hour. Stale
Homes are claimed for publishing at most once per `min_interval` each: a claim sets
``published_at`` and clears the mark in one write, so two replicas never publish the same Home for
the same change, and a burst of changes to one person's submissions becomes one publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import Database
from bot.db.types import UtcMicros, from_micros
from bot.home.schema import home_views

__all__ = ["OPEN_FOR", "HomeViews"]

OPEN_FOR = timedelta(hours=1)
"""How long after opening their Home a person's changes republish it."""


class HomeViews:
    """The ``home_views`` table on the outbox's database. Safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _writing(self) -> AbstractContextManager[Connection]:
        # The outbox's write transaction: on SQLite it queues behind this process's other writers,
        # so an ack's insert is never starved by Home bookkeeping.
        return self._db.writing()

    def now(self) -> datetime:
        return self._db.now()

    def opened(self, user_id: str, *, read_at: datetime, now: datetime | None = None) -> None:
        """``user_id`` opened their Home and it was just published from what was read at
        ``read_at``: it is current, unless marked stale after that read."""
        at = self._db.now(now)
        still_stale = sa.case(
            (home_views.c.stale_since > self._db.now(read_at), home_views.c.stale_since), else_=None
        )
        statement = (
            self._db.insert_for(home_views)
            .values(user_id=user_id, opened_at=at, published_at=at, stale_since=None)
            .on_conflict_do_update(
                index_elements=[home_views.c.user_id],
                set_={"opened_at": at, "published_at": at, "stale_since": still_stale},
            )
        )
        with self._writing() as conn:
            conn.execute(statement)

    def mark_stale(self, user_ids: Iterable[str], *, now: datetime | None = None) -> list[str]:
        """Mark the Homes of those among ``user_ids`` who opened theirs within the hour; returns
        them. Most changes concern nobody looking: they cost one read, never a write."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return []
        at = self._db.now(now)
        open_now = sa.and_(home_views.c.user_id.in_(wanted), home_views.c.opened_at >= at - OPEN_FOR)
        with self._db.reading() as conn:
            found = list(conn.execute(sa.select(home_views.c.user_id).where(open_now)).scalars())
        if not found:
            return []
        with self._writing() as conn:
            conn.execute(
                sa.update(home_views)
                .where(open_now)
                .values(stale_since=sa.func.coalesce(home_views.c.stale_since, sa.literal(at, UtcMicros())))
            )
        return found

    def claim_due(
        self, min_interval: timedelta, limit: int = 10, *, now: datetime | None = None
    ) -> list[str]:
        """Up to ``limit`` stale Homes not published within ``min_interval``, oldest mark first:
        each is marked published now and current, for the caller to publish."""
        at = self._db.now(now)
        due = sa.and_(
            home_views.c.stale_since.is_not(None),
            sa.or_(home_views.c.published_at.is_(None), home_views.c.published_at <= at - min_interval),
        )
        with self._db.reading() as conn:
            if conn.execute(sa.select(home_views.c.user_id).where(due).limit(1)).first() is None:
                return []
        with self._writing() as conn:
            picked = list(
                conn.execute(
                    sa.select(home_views.c.user_id)
                    .where(due)
                    .order_by(home_views.c.stale_since)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not picked:
                return []
            claimed = conn.execute(
                sa.update(home_views)
                .where(home_views.c.user_id.in_(picked), due)
                .values(published_at=at, stale_since=None)
                .returning(home_views.c.user_id)
            ).scalars()
            return sorted(claimed)

    def next_due(self, min_interval: timedelta) -> datetime | None:
        """When the next stale Home may be published (maybe already); None when none is stale."""
        never = sa.literal(from_micros(0), UtcMicros())
        query = sa.select(
            sa.func.count(), sa.func.min(sa.func.coalesce(home_views.c.published_at, never))
        ).where(home_views.c.stale_since.is_not(None))
        with self._db.reading() as conn:
            count, earliest_published = conn.execute(query).one()
        if not count or not isinstance(earliest_published, datetime):
            return None
        return earliest_published + min_interval

    def stale(self) -> Sequence[str]:
        """Every stale Home (for tests and operators)."""
        with self._db.reading() as conn:
            return list(
                conn.execute(
                    sa.select(home_views.c.user_id).where(home_views.c.stale_since.is_not(None))
                ).scalars()
            )

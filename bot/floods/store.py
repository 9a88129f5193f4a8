"""The flood limits' tables: counting what was let through in the last hour, holding what went over,
and handing held items back to be filed or dropped. On the outbox's database; safe to share between
threads and replicas.

`admit` runs on Slack's ack path, but only for a message automatic capture or follow-ups keep: one
write transaction that locks the channel's row (so replicas count one at a time per channel), makes
two indexed counts of at most a limit's worth of rows each, and writes a mark or a held item.

The hour a message counts in is the hour it was posted in (its Slack ts), not the moment it is
counted: messages the catch-up reads back after an outage count where they belong, instead of all
at once in the current hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import Database
from bot.floods.limits import WINDOW, FloodLimits, Scope, over_limit, posted_at
from bot.floods.schema import channels, dropped, held, marks

__all__ = ["DROPPED", "FloodStore", "HeldGroup", "HeldItem", "Verdict"]

DROPPED = "dropped by an admin"
"""The reason given for a message an admin dropped when it comes again: it is never sent."""

# How many ts one query asks about (a thread's replies may be thousands).
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Verdict:
    held: bool
    """Kept here instead of sent on."""
    reason: str | None = None
    """Which limit it went over (when held)."""
    first: bool = False
    """The first held item of its channel (none was held there before): the admins hear of it."""


@dataclass(frozen=True, slots=True)
class HeldItem:
    id: int
    scope: Scope
    channel_id: str
    ts: str
    author_id: str
    payload: dict[str, Any]
    held_at: datetime


@dataclass(frozen=True, slots=True)
class HeldGroup:
    """What a channel holds of one scope, for the admins' part of the Home."""

    channel_id: str
    scope: Scope
    count: int
    authors: tuple[str, ...]
    """Who wrote them (at most a few, most held first)."""
    oldest: datetime
    reason: str
    """Why the latest was held."""
    not_filed: int = 0
    """How many of them an admin's File could not send (they stay held)."""
    not_filed_reason: str | None = None
    """Why the latest of those could not be sent."""


class FloodStore:
    def __init__(self, database: Database, limits: FloodLimits) -> None:
        self._db = database
        self._limits = limits

    @property
    def limits(self) -> FloodLimits:
        return self._limits

    # -- the intake -----------------------------------------------------------------------------

    def admit(
        self,
        scope: Scope,
        channel_id: str,
        ts: str,
        author_id: str,
        payload: Mapping[str, Any],
        *,
        now: datetime | None = None,
    ) -> Verdict:
        """Count one message the caller is about to keep, or hold it (with ``payload``) when it
        goes over a limit. The same message again (Slack's retry, another replica) gets the same
        answer and is counted once."""
        author_id = author_id[:64]
        with self._db.writing() as conn:
            self._lock_channel(conn, channel_id)
            at = self._db.now(now)
            # The hour it counts in is the one it was posted in (a message read back after an
            # outage is not counted as if it had just been written).
            posted = posted_at(ts) or at
            key = sa.and_(marks.c.scope == scope.value, marks.c.channel_id == channel_id, marks.c.ts == ts)
            if conn.execute(sa.select(marks.c.ts).where(key)).first() is not None:
                return Verdict(held=False)
            earlier = conn.execute(
                sa.select(held.c.reason).where(
                    held.c.scope == scope.value, held.c.channel_id == channel_id, held.c.ts == ts
                )
            ).first()
            if earlier is not None:
                return Verdict(held=True, reason=str(earlier.reason))
            if self._was_dropped(conn, scope, channel_id, ts):
                return Verdict(held=True, reason=DROPPED)
            reason = over_limit(
                scope,
                self._limits.of(scope),
                by_author=self._count(conn, scope, marks.c.author_id == author_id, posted),
                in_channel=self._count(conn, scope, marks.c.channel_id == channel_id, posted),
            )
            if reason is None:
                conn.execute(
                    sa.insert(marks).values(
                        scope=scope.value,
                        channel_id=channel_id,
                        ts=ts,
                        author_id=author_id,
                        at=posted,
                        counted_at=at,
                    )
                )
                return Verdict(held=False)
            first = (
                conn.execute(sa.select(held.c.id).where(held.c.channel_id == channel_id).limit(1)).first()
                is None
            )
            conn.execute(
                sa.insert(held).values(
                    scope=scope.value,
                    channel_id=channel_id,
                    ts=ts,
                    author_id=author_id,
                    reason=reason,
                    payload=dict(payload),
                    held_at=at,
                )
            )
            if first:
                conn.execute(
                    sa.update(channels).where(channels.c.channel_id == channel_id).values(told_at=at)
                )
            return Verdict(held=True, reason=reason, first=first)

    @staticmethod
    def _was_dropped(conn: Connection, scope: Scope, channel_id: str, ts: str) -> bool:
        query = sa.select(dropped.c.ts).where(
            dropped.c.scope == scope.value, dropped.c.channel_id == channel_id, dropped.c.ts == ts
        )
        return conn.execute(query).first() is not None

    def _count(self, conn: Connection, scope: Scope, whose: sa.ColumnElement[bool], posted: datetime) -> int:
        """How many were let through in the hour before ``posted`` (the message's own time)."""
        if not self._limits.of(scope).per_author and not self._limits.of(scope).per_channel:
            return 0
        query = sa.select(sa.func.count()).where(
            marks.c.scope == scope.value, whose, marks.c.at > posted - WINDOW, marks.c.at <= posted
        )
        return int(conn.execute(query).scalar_one())

    def _lock_channel(self, conn: Connection, channel_id: str) -> None:
        query = sa.select(channels.c.channel_id).where(channels.c.channel_id == channel_id).with_for_update()
        if conn.execute(query).first() is None:
            conn.execute(
                self._db.insert_for(channels)
                .values(channel_id=channel_id, told_at=None)
                .on_conflict_do_nothing(index_elements=[channels.c.channel_id])
            )
            conn.execute(query).first()

    def forget(self, scope: Scope, channel_id: str, ts: str) -> bool:
        """The message was deleted in Slack: its held copy goes, words and all (True if there was one)."""
        with self._db.writing() as conn:
            gone = conn.execute(
                sa.delete(held).where(
                    held.c.scope == scope.value, held.c.channel_id == channel_id, held.c.ts == ts
                )
            ).rowcount
        return bool(gone)

    def withheld(self, scope: Scope, channel_id: str, stamps: Iterable[str]) -> frozenset[str]:
        """Which of these messages (by ts) are not to reach Productlane: held, or dropped by an
        admin. A thread's body rendered again from Slack leaves them out."""
        wanted = sorted(set(stamps))
        found: set[str] = set()
        with self._db.reading() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                for table in (held, dropped):
                    query = sa.select(table.c.ts).where(
                        table.c.scope == scope.value, table.c.channel_id == channel_id, table.c.ts.in_(chunk)
                    )
                    found.update(str(ts) for ts in conn.execute(query).scalars())
        return frozenset(found)

    # -- the admins' side -----------------------------------------------------------------------

    def held_groups(self, limit: int = 50) -> list[HeldGroup]:
        """What is held, by channel and scope, the channels holding most first."""
        summary = (
            sa.select(
                held.c.channel_id,
                held.c.scope,
                sa.func.count().label("held_count"),
                sa.func.min(held.c.held_at).label("oldest"),
                sa.func.max(held.c.id).label("latest"),
                sa.func.count(held.c.not_filed).label("not_filed_count"),
            )
            .group_by(held.c.channel_id, held.c.scope)
            .order_by(sa.func.count().desc(), held.c.channel_id, held.c.scope)
            .limit(limit)
        )
        with self._db.reading() as conn:
            rows = conn.execute(summary).all()
            groups = []
            for row in rows:
                authors = conn.execute(
                    sa.select(held.c.author_id)
                    .where(held.c.channel_id == row.channel_id, held.c.scope == row.scope)
                    .group_by(held.c.author_id)
                    .order_by(sa.func.count().desc(), held.c.author_id)
                    .limit(5)
                ).scalars()
                reason = conn.execute(sa.select(held.c.reason).where(held.c.id == row.latest)).scalar_one()
                not_filed = None
                if row.not_filed_count:
                    not_filed = conn.execute(
                        sa.select(held.c.not_filed)
                        .where(
                            held.c.channel_id == row.channel_id,
                            held.c.scope == row.scope,
                            held.c.not_filed.is_not(None),
                        )
                        .order_by(held.c.id.desc())
                        .limit(1)
                    ).scalar_one()
                groups.append(
                    HeldGroup(
                        channel_id=str(row.channel_id),
                        scope=Scope(row.scope),
                        count=int(row.held_count),
                        authors=tuple(str(author) for author in authors),
                        oldest=row.oldest,
                        reason=str(reason),
                        not_filed=int(row.not_filed_count),
                        not_filed_reason=None if not_filed is None else str(not_filed),
                    )
                )
        return groups

    def held_count(self) -> int:
        with self._db.reading() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(held)).scalar_one())

    def held_in(self, scope: Scope, channel_id: str) -> list[HeldItem]:
        """A channel's held items of ``scope``, in Slack's order (their ts)."""
        query = (
            sa.select(held)
            .where(held.c.scope == scope.value, held.c.channel_id == channel_id)
            .order_by(held.c.ts, held.c.id)
        )
        with self._db.reading() as conn:
            return [
                HeldItem(
                    id=int(row.id),
                    scope=Scope(row.scope),
                    channel_id=str(row.channel_id),
                    ts=str(row.ts),
                    author_id=str(row.author_id),
                    payload=dict(row.payload),
                    held_at=row.held_at,
                )
                for row in conn.execute(query)
            ]

    def remove(self, item_ids: Iterable[int]) -> int:
        """Delete these held items (their feature has them now); how many there were."""
        ids = list(item_ids)
        if not ids:
            return 0
        with self._db.writing() as conn:
            return int(conn.execute(sa.delete(held).where(held.c.id.in_(ids))).rowcount)

    def drop(self, item_ids: Iterable[int], *, now: datetime | None = None) -> int:
        """An admin dropped these held items: deleted, and remembered as dropped (never sent, left
        out of a thread's body rendered again); how many there were."""
        ids = list(item_ids)
        if not ids:
            return 0
        with self._db.writing() as conn:
            at = self._db.now(now)
            rows = conn.execute(
                sa.select(held.c.scope, held.c.channel_id, held.c.ts).where(held.c.id.in_(ids))
            ).all()
            for row in rows:
                conn.execute(
                    self._db.insert_for(dropped)
                    .values(scope=row.scope, channel_id=row.channel_id, ts=row.ts, dropped_at=at)
                    .on_conflict_do_nothing(
                        index_elements=[dropped.c.scope, dropped.c.channel_id, dropped.c.ts]
                    )
                )
            return int(conn.execute(sa.delete(held).where(held.c.id.in_(ids))).rowcount)

    def not_filed(self, item_id: int, reason: str) -> None:
        """An admin's File could not send this item: it stays held, and the Home says why."""
        with self._db.writing() as conn:
            conn.execute(sa.update(held).where(held.c.id == item_id).values(not_filed=reason[:200]))

    # -- housekeeping ---------------------------------------------------------------------------

    def purge(self, held_before: datetime, *, now: datetime | None = None) -> int:
        """Delete held items held before ``held_before`` (the outbox's retention), what was
        dropped as long ago, and marks that have left the window; how many held items went."""
        at = self._db.now(now)
        with self._db.writing() as conn:
            # A mark stays while its hour is current, and for an hour after it was counted (more
            # messages of its hour may be read back after an outage).
            conn.execute(
                sa.delete(marks).where(
                    marks.c.at <= at - WINDOW,
                    sa.or_(marks.c.counted_at.is_(None), marks.c.counted_at <= at - WINDOW),
                )
            )
            conn.execute(sa.delete(dropped).where(dropped.c.dropped_at < held_before))
            return int(conn.execute(sa.delete(held).where(held.c.held_at < held_before)).rowcount)

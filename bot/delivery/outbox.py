"""A durable outbox: requests are saved before Slack gets its ack, then sent by a worker.

This module knows nothing of Slack or Productlane: an item is a ``kind`` and an opaque JSON
``payload``, deduplicated by a caller-chosen ``dedupe_key``. It works on SQLite (one machine,
zero set-up; WAL, so `add` is cheap) and on PostgreSQL (several replicas).

Life of an item::

    add ──▶ pending ──claim──▶ sending ──mark_delivered──▶ delivered
               ▲                 │ │
               └─schedule_retry──┘ └──mark_failed──▶ failed ──requeue──▶ pending
                                                       │
                          add(supersedes=this item) ───┴──▶ superseded (never sent)

A worker claims due items under a lease (`claim`), calls `mark_attempt` just *before* each
POST (so ``first_sent_at`` tells a later attempt that a thread may already exist), then records
the outcome. Only the lease owner can change a claimed item; an item whose lease ran out (its
worker died) is claimable again. Owners must be unique per worker (e.g. host-pid-uuid).

Once the thread exists the worker keeps it in ``result`` (`record_thread`) before telling the
submitter. If that reply has to wait (Slack rate-limited it, an outage), the item goes back to
pending *with* its result: the next claim only posts the reply, and never creates the thread
again. ``superseded`` is stored as failed with ``superseded_by`` set (SQLite cannot change the
status column's CHECK constraint in place), and reported as its own `Status`.

Items in order: an item whose ``dedupe_key`` is `in_order_key(queue, position)` waits its turn. It
is claimed only once no earlier item of its queue (a smaller position) still waits for its thread —
pending or sending without a result. Positions are fixed-width and sort as the items must be sent
(a Slack message ts), so the order holds however the items were added (concurrent acks, two
replicas, Slack delivering events out of order) and whichever sender or replica claims them. Once
an item has its thread the next one may go, while its confirmation is still being posted.

Beside the items, on the same database: the shared send-rate limiter (`bot.budgets.write_limits`)
and the "the API key itself is refused" pause (`bot.budgets.key_pause`).

An item as handed out (`OutboxItem`, its `Status`) is `bot.delivery.item`. What the items say about
submissions, for the features that show them or make way for them, is `bot.delivery.submissions`.

All times are timezone-aware UTC datetimes; every method takes an optional ``now`` for tests.
Create one `Outbox` per process (after any fork); it is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.db import Database
from bot.db.types import EncodedJson, encode_json, short_error, to_micros
from bot.delivery.claiming import candidates, queue_of
from bot.delivery.item import (
    IN_ORDER,
    AddResult,
    OutboxItem,
    Status,
    in_order_key,
    in_status,
    item_of,
)
from bot.delivery.schema import items

__all__ = ["IN_ORDER", "AddResult", "EncodedJson", "Outbox", "OutboxItem", "Status", "in_order_key"]

# `add` on SQLite (see Outbox._add_sqlite); the columns and values of `_add_statement`.
_SQLITE_ADD = (
    "INSERT INTO outbox_items (dedupe_key, kind, payload, status, attempts, created_at, updated_at,"
    " next_attempt_at, delayed_notice_sent, submitter_id, in_order_queue)"
    " VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, 0, ?, ?)"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
)
_SQLITE_EXISTING = "SELECT id FROM outbox_items WHERE dedupe_key = ?"


class Outbox:
    """The outbox store. See the module docstring for the life of an item."""

    def __init__(self, database: Database) -> None:
        self._db = database
        # `add` runs on Slack's ack path: its statement is built once, not per call.
        self._add_statement = (
            self._db.insert_for(items)
            .values(
                {
                    column: sa.bindparam(column)
                    for column in (
                        "dedupe_key",
                        "kind",
                        "payload",
                        "status",
                        "attempts",
                        "created_at",
                        "updated_at",
                        "next_attempt_at",
                        "delayed_notice_sent",
                        "submitter_id",
                        "in_order_queue",
                    )
                }
            )
            .on_conflict_do_nothing(index_elements=[items.c.dedupe_key])
            .returning(items.c.id)
        )

    @property
    def database(self) -> Database:
        return self._db

    def ping(self) -> None:
        """A read of the outbox's own data: raises (SQLAlchemyError) when it cannot be reached,
        `DatabaseFileGoneError` when its SQLite file was deleted or replaced."""
        self._db.check_file()
        with self._db.reading() as conn:
            conn.execute(sa.select(items.c.id).limit(1))

    def _owned(self, item_id: int, owner: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            items.c.id == item_id,
            items.c.status == Status.SENDING.value,
            items.c.lease_owner == owner,
        )

    def _update(self, where: sa.ColumnElement[bool], **values: Any) -> int:
        with self._db.writing() as conn:
            return int(conn.execute(sa.update(items).where(where).values(**values)).rowcount)

    # -- adding -------------------------------------------------------------------------------

    def add(
        self,
        dedupe_key: str,
        kind: str,
        payload: dict[str, Any] | EncodedJson,
        *,
        submitter_id: str | None = None,
        supersedes: int | None = None,
        due_in: timedelta | None = None,
        now: datetime | None = None,
    ) -> AddResult:
        """Save a new pending item, due at once (or ``due_in`` from now); the same ``dedupe_key``
        again returns the existing item's id with ``created=False`` and changes nothing. ``payload``
        is a JSON object: a dict, or the `EncodedJson` text of one.

        ``submitter_id``: who the item is for (at most 64 characters): one person's items are
        found by an index (the App Home lists them).

        ``supersedes``: the new item is an edited copy of that one ("Edit and resend"). In the
        same transaction, that item becomes superseded if it is failed or still pending, so a
        later `requeue` can never send both. One being sent right now is left alone.
        """
        if not dedupe_key or len(dedupe_key) > 255:
            raise ValueError("dedupe_key must be 1..255 characters (hash longer keys)")
        if not kind or len(kind) > 64:
            raise ValueError("kind must be 1..64 characters")
        if not isinstance(payload, dict) and not (
            isinstance(payload, EncodedJson) and payload.startswith("{")
        ):
            raise TypeError("payload must be a JSON object (a dict, or EncodedJson of one)")
        if submitter_id is not None and len(submitter_id) > 64:
            raise ValueError("submitter_id must be at most 64 characters")
        at = self._db.now(now)
        due = at + due_in if due_in else at
        if self._db.dialect == "sqlite" and supersedes is None:
            return self._add_sqlite(dedupe_key, kind, payload, submitter_id, to_micros(at), to_micros(due))
        values = {
            "dedupe_key": dedupe_key,
            "kind": kind,
            "payload": payload,
            "status": Status.PENDING.value,
            "attempts": 0,
            "created_at": at,
            "updated_at": at,
            "next_attempt_at": due,
            "delayed_notice_sent": False,
            "submitter_id": submitter_id,
            "in_order_queue": queue_of(dedupe_key),
        }
        with self._db.writing() as conn:
            new_id = conn.execute(self._add_statement, values).scalar_one_or_none()
            if new_id is not None:
                if supersedes is not None and supersedes != new_id:
                    conn.execute(
                        sa.update(items)
                        .where(
                            items.c.id == supersedes,
                            items.c.status.in_([Status.FAILED.value, Status.PENDING.value]),
                            items.c.superseded_by.is_(None),
                        )
                        .values(
                            status=Status.FAILED.value,
                            superseded_by=int(new_id),
                            lease_owner=None,
                            lease_until=None,
                            updated_at=at,
                        )
                    )
                return AddResult(int(new_id), True)
            existing = conn.execute(
                sa.select(items.c.id).where(items.c.dedupe_key == dedupe_key)
            ).scalar_one()
            return AddResult(int(existing), False)

    def _add_sqlite(
        self,
        dedupe_key: str,
        kind: str,
        payload: dict[str, Any] | EncodedJson,
        submitter_id: str | None,
        at_us: int,
        due_us: int,
    ) -> AddResult:
        """`add` on SQLite, the ack path's one write, straight on the driver: the same row the
        statement above writes, for a third of the time (SQLAlchemy's execution layer cost ~200 µs
        of the ~300 µs a submission's insert took, profiled; bench/bench_ack.py)."""
        encoded = encode_json(payload)
        with self._db.writers:
            driver = self._db.sqlite_driver()
            # One statement, its own transaction (the connection is in autocommit): the write lock
            # is held for one call into SQLite. Every call lets go of the GIL and must win it back
            # while this thread holds the writers' lock, so under a burst each extra call (BEGIN,
            # COMMIT, the pool's reset) made every ack behind it wait longer (bench_ack --profile).
            for _ in range(2):
                # RETURNING rows must all be read before the statement (and its transaction) ends.
                rows = driver.execute(
                    _SQLITE_ADD,
                    (dedupe_key, kind, encoded, at_us, at_us, due_us, submitter_id, queue_of(dedupe_key)),
                ).fetchall()
                if rows:
                    return AddResult(int(rows[0][0]), created=True)
                rows = driver.execute(_SQLITE_EXISTING, (dedupe_key,)).fetchall()
                if rows:
                    return AddResult(int(rows[0][0]), created=False)
                # The earlier item went (purged) between the two statements: add it after all.
        raise RuntimeError(f"outbox item {dedupe_key!r} could neither be added nor found")

    # -- the worker's side --------------------------------------------------------------------

    def claim(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        replies_only: bool = False,
        now: datetime | None = None,
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due items for ``owner`` until ``now + lease_seconds``.

        ``replies_only``: only items whose thread already exists (a result, the reply still to
        post), e.g. while writes to Productlane are paused.

        Due: pending with ``next_attempt_at <= now``, or sending whose lease has run out (its
        worker died; check ``first_sent_at`` before sending again). Oldest due first, each kind read
        through an index of its own (`bot.delivery.claiming`), whatever the backlog. Each item
        is handed to one claimer only: PostgreSQL locks the chosen rows with
        ``FOR UPDATE SKIP LOCKED``; SQLite runs the whole claim in a ``BEGIN IMMEDIATE``
        transaction (one writer at a time), and the update re-checks the condition.
        """
        if not owner:
            raise ValueError("owner must not be empty")
        if limit < 1 or lease_seconds <= 0:
            raise ValueError("limit must be >= 1 and lease_seconds > 0")
        at = self._db.now(now)
        due = sa.or_(
            sa.and_(items.c.status == Status.PENDING.value, items.c.next_attempt_at <= at),
            sa.and_(items.c.status == Status.SENDING.value, items.c.lease_until <= at),
        )
        if replies_only:
            due = sa.and_(due, items.c.result.is_not(None))
        with self._db.writing() as conn:
            ids = candidates(conn, at, limit, replies_only=replies_only)
            if not ids:
                return []
            rows = conn.execute(
                sa.update(items)
                .where(items.c.id.in_(ids), due)
                .values(
                    status=Status.SENDING.value,
                    lease_owner=owner,
                    lease_until=at + timedelta(seconds=lease_seconds),
                    updated_at=at,
                )
                .returning(*items.c)
            ).all()
        claimed = [item_of(row) for row in rows]
        claimed.sort(key=lambda item: (item.next_attempt_at, item.id))
        return claimed

    def mark_attempt(
        self,
        item_id: int,
        owner: str,
        *,
        lease_seconds: float | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record that a send is about to start: ``attempts + 1``, ``first_sent_at`` if unset.

        Call it *before* the request goes out. False (send nothing) unless ``owner`` holds an
        unexpired lease; ``lease_seconds`` also renews the lease from ``now``.
        """
        at = self._db.now(now)
        values: dict[str, Any] = {
            "attempts": items.c.attempts + 1,
            "first_sent_at": sa.func.coalesce(
                items.c.first_sent_at, sa.literal(at, type_=items.c.first_sent_at.type)
            ),
            "updated_at": at,
        }
        if lease_seconds is not None:
            values["lease_until"] = at + timedelta(seconds=lease_seconds)
        return self._update(sa.and_(self._owned(item_id, owner), items.c.lease_until > at), **values) == 1

    def renew_lease(
        self, item_id: int, owner: str, lease_seconds: float, *, now: datetime | None = None
    ) -> bool:
        """Extend an unexpired lease to ``now + lease_seconds`` (e.g. while waiting for a slot)."""
        at = self._db.now(now)
        return (
            self._update(
                sa.and_(self._owned(item_id, owner), items.c.lease_until > at),
                lease_until=at + timedelta(seconds=lease_seconds),
                updated_at=at,
            )
            == 1
        )

    def record_thread(
        self, item_id: int, owner: str, result: dict[str, Any], *, now: datetime | None = None
    ) -> bool:
        """The thread exists: keep ``result`` (its id and link) while the reply is being posted,
        so no later attempt creates it again. The item stays claimed. Only the lease owner may."""
        return self._update(self._owned(item_id, owner), result=result, updated_at=self._db.now(now)) == 1

    def mark_delivered(
        self,
        item_id: int,
        owner: str,
        result: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Sent: keep ``result`` (e.g. the thread id and link). Only the lease owner may."""
        at = self._db.now(now)
        return (
            self._update(
                self._owned(item_id, owner),
                status=Status.DELIVERED.value,
                result=result,
                lease_owner=None,
                lease_until=None,
                updated_at=at,
            )
            == 1
        )

    def schedule_retry(
        self,
        item_id: int,
        owner: str,
        at: datetime,
        error: str,
        *,
        result: dict[str, Any] | None = None,
        nothing_sent: bool = False,
        now: datetime | None = None,
    ) -> bool:
        """Back to pending, due at ``at``; releases the lease. Only the lease owner may.

        ``result`` replaces the stored result (None keeps it). ``nothing_sent``: the only attempt
        so far was refused for certain, so no thread can exist: ``first_sent_at`` is cleared and
        the next attempt sends without looking for one first.
        """
        when = self._db.now(at)
        values: dict[str, Any] = {
            "status": Status.PENDING.value,
            "next_attempt_at": when,
            "last_error": short_error(error),
            "lease_owner": None,
            "lease_until": None,
            "updated_at": self._db.now(now),
        }
        if result is not None:
            values["result"] = result
        if nothing_sent:
            values["first_sent_at"] = None
        return self._update(self._owned(item_id, owner), **values) == 1

    def mark_failed(self, item_id: int, owner: str, error: str, *, now: datetime | None = None) -> bool:
        """Given up (an operator can `requeue` it). Only the lease owner may."""
        return (
            self._update(
                self._owned(item_id, owner),
                status=Status.FAILED.value,
                last_error=short_error(error),
                lease_owner=None,
                lease_until=None,
                updated_at=self._db.now(now),
            )
            == 1
        )

    def discard(self, item_id: int, owner: str) -> bool:
        """Delete a claimed item that must not be sent after all (its message was deleted in Slack
        before its turn): nothing of it is kept. Only the lease owner may."""
        with self._db.writing() as conn:
            return int(conn.execute(sa.delete(items).where(self._owned(item_id, owner))).rowcount) == 1

    def mark_delayed_notice_sent(self, item_id: int, *, now: datetime | None = None) -> bool:
        """Set the once-only "saved, will be sent later" flag; True only for the call that set
        it, so concurrent workers tell the submitter once."""
        return (
            self._update(
                sa.and_(items.c.id == item_id, items.c.delayed_notice_sent == sa.false()),
                delayed_notice_sent=True,
                updated_at=self._db.now(now),
            )
            == 1
        )

    def forget_delayed_notice(self, item_ids: Iterable[int], *, now: datetime | None = None) -> None:
        """Unset the once-only notice flag (the notice could not be posted): a later pass tells them."""
        ids = list(item_ids)
        if ids:
            self._update(items.c.id.in_(ids), delayed_notice_sent=False, updated_at=self._db.now(now))

    # -- looking and operator commands --------------------------------------------------------

    def get(self, item_id: int) -> OutboxItem | None:
        with self._db.reading() as conn:
            row = conn.execute(sa.select(items).where(items.c.id == item_id)).one_or_none()
        return None if row is None else item_of(row)

    def payload_by_key(self, dedupe_key: str) -> tuple[int, dict[str, Any]] | None:
        """The id and payload of the item added with ``dedupe_key``; None once it is purged (or for
        a payload that is no JSON object)."""
        query = sa.select(items.c.id, items.c.payload).where(items.c.dedupe_key == dedupe_key)
        with self._db.reading() as conn:
            row = conn.execute(query).first()
        if row is None or not isinstance(row.payload, dict):
            return None
        return int(row.id), row.payload

    def list_items(
        self, statuses: Iterable[Status | str] | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        """Items oldest first, optionally only those in ``statuses``."""
        query = sa.select(items).order_by(items.c.id).limit(limit)
        if statuses is not None:
            query = query.where(sa.or_(sa.false(), *(in_status(s) for s in statuses)))
        with self._db.reading() as conn:
            return [item_of(row) for row in conn.execute(query)]

    def counts(self) -> dict[Status, int]:
        """How many items are in each status (every status present, zeros included)."""
        superseded = items.c.superseded_by.is_not(None)
        query = sa.select(items.c.status, superseded, sa.func.count()).group_by(items.c.status, superseded)
        result = dict.fromkeys(Status, 0)
        with self._db.reading() as conn:
            for status, is_superseded, count in conn.execute(query):
                result[Status.SUPERSEDED if is_superseded else Status(status)] += int(count)
        return result

    def requeue(self, item_id: int, *, now: datetime | None = None) -> bool:
        """Make a failed (or waiting pending) item due now with a fresh attempt count.

        ``first_sent_at`` and ``last_error`` are kept: a thread may exist from earlier attempts.
        Sending, delivered and superseded items are left alone (False).
        """
        return self._requeue(items.c.id == item_id, now) == 1

    def requeue_failed(self, *, now: datetime | None = None) -> int:
        """`requeue` every failed item (not the superseded ones); returns how many."""
        return self._requeue(items.c.status == Status.FAILED.value, now)

    def _requeue(self, where: sa.ColumnElement[bool], now: datetime | None) -> int:
        at = self._db.now(now)
        return self._update(
            sa.and_(
                where,
                items.c.status.in_([Status.FAILED.value, Status.PENDING.value]),
                items.c.superseded_by.is_(None),
            ),
            status=Status.PENDING.value,
            next_attempt_at=at,
            attempts=0,
            lease_owner=None,
            lease_until=None,
            updated_at=at,
        )

    def purge_delivered(self, before: datetime, *, batch: int = 500) -> int:
        """Delete delivered items last changed before ``before``; returns how many.

        Their dedupe keys go with them, so purge only well after Slack could retry. Deletes go in
        small transactions: on SQLite each holds the write lock, and an ack's `add` must not wait
        behind a purge of a million rows.
        """
        cutoff = self._db.now(before)
        chosen = (
            sa.select(items.c.id)
            .where(items.c.status == Status.DELIVERED.value, items.c.updated_at < cutoff)
            .limit(batch)
            .scalar_subquery()
        )
        total = 0
        while True:
            with self._db.writing() as conn:
                deleted = int(conn.execute(sa.delete(items).where(items.c.id.in_(chosen))).rowcount)
            total += deleted
            if deleted < batch:
                return total

    def hold_for_operator(self, reason: str, *, now: datetime | None = None) -> list[OutboxItem]:
        """While writes are paused for an operator: note ``reason`` on every pending item that
        still needs its thread, and set the once-only notice flag of those not yet told.

        Returns the items whose flag this call set: tell exactly those submitters, once each,
        even when several replicas run this at the same moment.
        """
        at = self._db.now(now)
        noted = short_error(reason)
        waiting = sa.and_(items.c.status == Status.PENDING.value, items.c.result.is_(None))
        with self._db.writing() as conn:
            conn.execute(
                sa.update(items)
                .where(waiting, sa.or_(items.c.last_error.is_(None), items.c.last_error != noted))
                .values(last_error=noted)
            )
            rows = conn.execute(
                sa.update(items)
                .where(waiting, items.c.delayed_notice_sent == sa.false())
                .values(delayed_notice_sent=True, updated_at=at)
                .returning(*items.c)
            ).all()
        return sorted((item_of(row) for row in rows), key=lambda item: item.id)

    def waiting_count(self) -> int:
        """Pending and sending items: submissions not yet delivered (their reply included)."""
        query = sa.select(sa.func.count()).where(
            items.c.status.in_([Status.PENDING.value, Status.SENDING.value])
        )
        with self._db.reading() as conn:
            return int(conn.execute(query).scalar_one())

"""The sender's side of the conversation's tables: a followed thread is worked on by whoever holds its
lease, and only the lease owner may open, change or settle its batch (see `bot.conversation.store`
for the patterns shared by replicas and the life of a follow-up).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.conversation.records import (
    NOTE_MAX,
    WAITING,
    Batch,
    FollowUp,
    Route,
    ThreadWork,
    batch_of,
    follow_up_of,
)
from bot.conversation.schema import followups, threads
from bot.db import Database
from bot.db.types import short_error

__all__ = ["SenderSide"]


class SenderSide:
    """Leases on followed threads and the batches of their follow-ups, for `FollowUpStore`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def now(self) -> datetime:
        return self._db.now()

    def waiting(self) -> bool:
        """Whether any follow-up waits to be sent (one indexed read)."""
        query = sa.select(followups.c.id).where(followups.c.status.in_(WAITING)).limit(1)
        with self._db.reading() as conn:
            return conn.execute(query).first() is not None

    def claim_thread(self, owner: str, lease_seconds: float, gather_seconds: float) -> ThreadWork | None:
        """One thread whose follow-ups are due, leased to ``owner``: a batch in flight (whatever its
        age), or follow-ups of which the oldest waited ``gather_seconds`` (so those written close
        together go together), and the thread's last write is 10 s behind it."""
        at = self.now()
        if not self.waiting():
            return None
        ready = sa.exists().where(
            followups.c.channel_id == threads.c.channel_id,
            followups.c.thread_ts == threads.c.thread_ts,
            sa.or_(
                followups.c.status == "sending",
                sa.and_(
                    followups.c.status == "pending",
                    followups.c.received_at <= at - timedelta(seconds=gather_seconds),
                ),
            ),
        )
        due = sa.and_(
            ready,
            threads.c.gone == sa.false(),
            sa.or_(threads.c.next_write_at.is_(None), threads.c.next_write_at <= at),
            sa.or_(threads.c.lease_until.is_(None), threads.c.lease_until <= at),
        )
        pick = (
            sa.select(threads.c.channel_id, threads.c.thread_ts)
            .where(due)
            .order_by(sa.func.coalesce(threads.c.next_write_at, 0))
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._db.writing() as conn:
            picked = conn.execute(pick).first()
            if picked is None:
                return None
            row = conn.execute(
                sa.update(threads)
                .where(self._thread(picked.channel_id, picked.thread_ts), due)
                .values(lease_owner=owner, lease_until=at + timedelta(seconds=lease_seconds))
                .returning(*threads.c)
            ).first()
        if row is None:
            return None
        route = (
            Route(row.route, row.route_reason, row.route_since or at, row.route_retry_at)
            if row.route and row.route != "comments"
            else None
        )
        return ThreadWork(
            row.channel_id, row.thread_ts, row.thread_id, row.item_key, row.batch, route, row.body_sha256
        )

    def next_due_at(self, gather_seconds: float) -> datetime | None:
        """When the first thread with follow-ups waiting comes due as `claim_thread` decides (its
        oldest follow-up gathered, its next write allowed, no lease on it); None when none waits."""
        if not self.waiting():
            return None
        pending = sa.case((followups.c.status == "pending", followups.c.received_at), else_=None)
        query = (
            sa.select(
                threads.c.next_write_at,
                threads.c.lease_until,
                sa.func.min(pending).label("oldest_pending"),
                sa.func.count(sa.case((followups.c.status == "sending", 1), else_=None)).label("sending"),
            )
            .select_from(
                followups.join(
                    threads,
                    sa.and_(
                        followups.c.channel_id == threads.c.channel_id,
                        followups.c.thread_ts == threads.c.thread_ts,
                    ),
                )
            )
            .where(followups.c.status.in_(WAITING), threads.c.gone == sa.false())
            .group_by(
                threads.c.channel_id, threads.c.thread_ts, threads.c.next_write_at, threads.c.lease_until
            )
        )
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        due: list[datetime] = []
        gather = timedelta(seconds=gather_seconds)
        for row in rows:
            oldest: datetime | None = row.oldest_pending
            ready = [oldest + gather] if oldest is not None and not row.sending else []
            times = [t for t in (row.next_write_at, row.lease_until) if t is not None] + ready
            due.append(max(times) if times else self.now())
        return min(due, default=None)

    @staticmethod
    def _thread(channel_id: str, thread_ts: str) -> sa.ColumnElement[bool]:
        return sa.and_(threads.c.channel_id == channel_id, threads.c.thread_ts == thread_ts)

    def _held(self, work: ThreadWork, owner: str, at: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            self._thread(work.channel_id, work.thread_ts),
            threads.c.lease_owner == owner,
            threads.c.lease_until > at,
        )

    def renew(self, work: ThreadWork, owner: str, lease_seconds: float) -> bool:
        at = self.now()
        with self._db.writing() as conn:
            return bool(
                conn.execute(
                    sa.update(threads)
                    .where(self._held(work, owner, at))
                    .values(lease_until=at + timedelta(seconds=lease_seconds))
                ).rowcount
            )

    def release(
        self, work: ThreadWork, owner: str, *, not_before: datetime | None = None, error: str | None = None
    ) -> None:
        """Give the thread back; it is due again at ``not_before`` (None: as its follow-ups are)."""
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if not_before is not None:
            values["next_write_at"] = not_before
        if error is not None:
            values["last_error"] = short_error(error)
        with self._db.writing() as conn:
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts), threads.c.lease_owner == owner)
                .values(**values)
            )

    def open_batch(self, work: ThreadWork, owner: str, route: str, limit: int) -> Batch | None:
        """The batch in flight, or a new one of up to ``limit`` waiting follow-ups in Slack's order;
        None when nothing is left to send or the lease is lost."""
        at = self.now()
        with self._db.writing() as conn:
            row = conn.execute(
                sa.select(threads.c.batch).where(self._held(work, owner, at)).with_for_update()
            ).first()
            if row is None:
                return None
            current = row.batch if isinstance(row.batch, Mapping) else None
            if current is not None:
                replies = self._batch_rows(conn, work, str(current["id"]))
                if replies:
                    return batch_of(current, replies)
                # Every reply of it was deleted before it went out: nothing to send for it.
                conn.execute(sa.update(threads).where(self._held(work, owner, at)).values(batch=None))
            waiting = conn.execute(
                sa.select(followups.c.id)
                .where(
                    followups.c.channel_id == work.channel_id,
                    followups.c.thread_ts == work.thread_ts,
                    followups.c.status == "pending",
                )
                .order_by(followups.c.sort_us, followups.c.id)
                .limit(limit)
            ).scalars()
            chosen = list(waiting)
            if not chosen:
                return None
            batch_id = uuid.uuid4().hex
            conn.execute(
                sa.update(followups)
                .where(followups.c.id.in_(chosen), followups.c.status == "pending")
                .values(status="sending", batch_id=batch_id)
            )
            conn.execute(
                sa.update(threads)
                .where(self._held(work, owner, at))
                .values(batch={"id": batch_id, "route": route, "attempted": False})
            )
            replies = self._batch_rows(conn, work, batch_id)
        return Batch(batch_id, route, False, replies)

    def _batch_rows(self, conn: Connection, work: ThreadWork, batch_id: str) -> tuple[FollowUp, ...]:
        query = (
            sa.select(followups)
            .where(
                followups.c.channel_id == work.channel_id,
                followups.c.thread_ts == work.thread_ts,
                followups.c.batch_id == batch_id,
                followups.c.status == "sending",
            )
            .order_by(followups.c.sort_us, followups.c.id)
        )
        return tuple(follow_up_of(row) for row in conn.execute(query))

    def batch_versions(self, work: ThreadWork, batch: Batch) -> tuple[tuple[str, int, str], ...]:
        with self._db.reading() as conn:
            return tuple(reply.version for reply in self._batch_rows(conn, work, batch.id))

    def set_batch_route(
        self, work: ThreadWork, owner: str, batch: Batch, route: str, *, keep_body: bool | None = None
    ) -> Batch:
        """The batch goes another way (comments were refused, or the body changed in Productlane:
        ``keep_body``): nothing of it went out."""
        at = self.now()
        keep = batch.keep_body if keep_body is None else keep_body
        changed = Batch(batch.id, route, False, batch.replies, keep_body=keep)
        with self._db.writing() as conn:
            conn.execute(
                sa.update(threads).where(self._held(work, owner, at)).values(batch=changed.as_json())
            )
            conn.execute(
                sa.update(followups)
                .where(followups.c.batch_id == batch.id, followups.c.status == "sending")
                .values(attempted_at=None)
            )
        return changed

    def mark_attempt(
        self,
        work: ThreadWork,
        owner: str,
        batch: Batch,
        lease_seconds: float,
        *,
        body_sha256: str | None = None,
    ) -> bool:
        """Record that the batch's write is about to go out (call it *before* sending): True only
        while ``owner`` holds the thread and the batch is still what was composed (no reply of it
        edited or deleted since); the lease is renewed. ``body_sha256``: the fingerprint of the
        body a re-render sends (an answer that never came may have left it in Productlane)."""
        at = self.now()
        with self._db.writing() as conn:
            held = conn.execute(
                sa.select(threads.c.batch).where(self._held(work, owner, at)).with_for_update()
            ).first()
            if held is None:
                return False
            now_rows = self._batch_rows(conn, work, batch.id)
            if tuple(r.version for r in now_rows) != tuple(r.version for r in batch.replies):
                return False
            conn.execute(
                sa.update(threads)
                .where(self._held(work, owner, at))
                .values(
                    batch=batch.as_json(attempted=True, body_sha256=body_sha256),
                    lease_until=at + timedelta(seconds=lease_seconds),
                )
            )
            conn.execute(
                sa.update(followups)
                .where(followups.c.batch_id == batch.id, followups.c.status == "sending")
                .values(attempted_at=at)
            )
        return True

    def nothing_sent(self, work: ThreadWork, owner: str, batch: Batch) -> None:
        """The write was refused for certain (429, a connection never made): nothing went out."""
        with self._db.writing() as conn:
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts), threads.c.lease_owner == owner)
                .values(batch=batch.as_json(attempted=False))
            )
            conn.execute(
                sa.update(followups)
                .where(followups.c.batch_id == batch.id, followups.c.status == "sending")
                .values(attempted_at=None)
            )

    def batch_sent(
        self,
        work: ThreadWork,
        owner: str,
        batch: Batch,
        *,
        comment_id: str | None,
        next_write_at: datetime,
        gone_keys: Iterable[str] = (),
        body_sha256: str | None = None,
    ) -> bool:
        """Productlane has the batch: its replies are sent (``gone_keys``: those it turned out
        Slack no longer had, deleted), the thread's next write waits, the thread is released.
        ``body_sha256``: the fingerprint of the body Productlane now has (after a re-render)."""
        at = self.now()
        gone = list(gone_keys)
        with self._db.writing() as conn:
            held = conn.execute(
                sa.select(threads.c.thread_ts)
                .where(self._thread(work.channel_id, work.thread_ts), threads.c.lease_owner == owner)
                .with_for_update()
            ).first()
            if held is None:
                return False
            if gone:
                conn.execute(
                    sa.update(followups)
                    .where(followups.c.batch_id == batch.id, followups.c.key.in_(gone))
                    .values(status="deleted", note="no longer in Slack when it was sent")
                )
            conn.execute(
                sa.update(followups)
                .where(followups.c.batch_id == batch.id, followups.c.status == "sending")
                .values(status="sent", sent_at=at, route=batch.route, comment_id=comment_id)
            )
            body = {"body_sha256": body_sha256} if body_sha256 is not None else {}
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts))
                .values(
                    batch=None,
                    next_write_at=next_write_at,
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                    **body,
                )
            )
        return True

    def drop_batch(
        self,
        work: ThreadWork,
        owner: str,
        batch: Batch,
        note: str,
        *,
        gone: bool = False,
        refused: bool = False,
    ) -> None:
        """Productlane can never take these (the thread is gone, or it refused them): they are
        dropped, with why; a gone thread is followed no more, its waiting follow-ups dropped too.
        ``refused``: kept as refused, shown to the admins (`FollowUpStore.refused`)."""
        with self._db.writing() as conn:
            which = followups.c.batch_id == batch.id
            if gone:
                which = sa.or_(
                    which,
                    sa.and_(
                        followups.c.channel_id == work.channel_id,
                        followups.c.thread_ts == work.thread_ts,
                        followups.c.status.in_(WAITING),
                    ),
                )
            conn.execute(
                sa.update(followups)
                .where(which, followups.c.status.in_(WAITING))
                .values(status="dropped", note=note[:NOTE_MAX], refusal=note[:NOTE_MAX] if refused else None)
            )
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts), threads.c.lease_owner == owner)
                .values(
                    batch=None, gone=gone, lease_owner=None, lease_until=None, last_error=short_error(note)
                )
            )

    def set_thread_route(
        self, work: ThreadWork, route: str, reason: str | None, retry_at: datetime | None
    ) -> None:
        """How this thread's follow-ups go from now on (``"comments"`` or ``"patch"``); no other
        thread's route changes."""
        values: dict[str, Any] = {
            "route": None if route == "comments" else route,
            "route_reason": short_error(reason) if reason else None,
            "route_since": self.now() if route != "comments" else None,
            "route_retry_at": retry_at,
        }
        with self._db.writing() as conn:
            conn.execute(
                sa.update(threads).where(self._thread(work.channel_id, work.thread_ts)).values(**values)
            )

    def adopt_body_fingerprint(self, work: ThreadWork, body_sha256: str) -> None:
        """A thread followed before the bot kept its body's fingerprint: the body it holds was found
        to be the one the bot filed, so that is its fingerprint from now on (only where none is)."""
        with self._db.writing() as conn:
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts), threads.c.body_sha256.is_(None))
                .values(body_sha256=body_sha256)
            )

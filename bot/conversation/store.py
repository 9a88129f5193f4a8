"""The conversation's tables: followed threads, their follow-ups, the copies of their files, the route.

It runs on the outbox's database and engine (`Outbox.writing()` / `Outbox.reading()`), with the
patterns of the outbox for work shared by replicas: a thread is worked on by whoever holds its
lease (picked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, inside SQLite's ``BEGIN IMMEDIATE``),
only the lease owner may change its batch, and a lease that ran out (its worker died) is taken
over. One sender per thread at a time is what keeps a thread's follow-ups in Slack's order.

A follow-up is ``pending`` when it arrives, ``sending`` once it is in a batch, ``sent`` when
Productlane has it; ``deleted`` when it was deleted in Slack before its batch went out, and
``dropped`` when Productlane can never take it (the thread is gone). A batch marked
``attempted`` may be in Productlane although no answer said so: it is looked for before it is
sent again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.conversation.schema import copied_files, followups, routes, threads
from bot.db import Database
from bot.db.types import short_error
from bot.delivery.schema import copied_files as item_copies
from bot.delivery.schema import items
from bot.feedback.capture import CopiedFile

__all__ = [
    "Batch",
    "FollowUp",
    "FollowUpStore",
    "FollowedThread",
    "Route",
    "ThreadWork",
    "ts_micros",
]

NOTE_MAX = 200
# Deleted and settled rows are kept this long (a late retry of Slack's event finds its key).
KEEP_SETTLED = timedelta(days=7)
WAITING = ("pending", "sending")


def ts_micros(ts: str) -> int:
    """A Slack ts ("1733150160.000300") as whole microseconds, exactly (no float)."""
    seconds, _, fraction = ts.partition(".")
    try:
        return int(seconds) * 1_000_000 + int((fraction + "000000")[:6] or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class FollowedThread:
    channel_id: str
    thread_ts: str
    thread_id: str
    item_key: str | None
    filed_at: datetime
    follow_until: datetime


@dataclass(frozen=True)
class ThreadWork:
    """A followed thread claimed by one sender."""

    channel_id: str
    thread_ts: str
    thread_id: str
    item_key: str | None
    batch: Mapping[str, Any] | None


@dataclass(frozen=True)
class FollowUp:
    key: str
    ts: str
    sort_us: int
    user_id: str | None
    message: Mapping[str, Any]
    status: str
    revision: int
    received_at: datetime
    edited: bool

    @property
    def version(self) -> tuple[str, int, str]:
        return self.key, self.revision, self.status


@dataclass(frozen=True)
class Batch:
    """Follow-ups of one thread that go out in one write, oldest first."""

    id: str
    route: str  # "comments" | "patch"
    attempted: bool
    replies: tuple[FollowUp, ...]

    @property
    def marker(self) -> str:
        """What a comment holding this batch contains: the link to its first reply in Slack."""
        first = self.replies[0] if self.replies else None
        return "" if first is None else f"/p{first.ts.replace('.', '')}"


@dataclass(frozen=True)
class Route:
    route: str  # "comments" | "patch"
    reason: str | None
    since: datetime
    retry_at: datetime | None


def _follow_up(row: sa.Row[Any]) -> FollowUp:
    m = row._mapping
    message = m["message"] if isinstance(m["message"], Mapping) else {}
    return FollowUp(
        key=m["key"],
        ts=m["ts"],
        sort_us=int(m["sort_us"]),
        user_id=m["user_id"],
        message=message,
        status=m["status"],
        revision=int(m["revision"]),
        received_at=m["received_at"],
        edited=":edited:" in m["key"],
    )


def _key(channel_id: str, ts: str) -> str:
    return f"{channel_id}:{ts}"


class FollowUpStore:
    """The conversation's tables on the outbox's database. Safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def now(self) -> datetime:
        return self._db.now()

    # -- followed threads -----------------------------------------------------------------------

    def follow(self, thread: FollowedThread) -> bool:
        """Follow a filed message's Slack thread (True when it was not followed yet). Following it
        again (an edit of the feedback, a second filing) keeps the first filing's window."""
        statement = (
            self._db.insert_for(threads)
            .values(
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                thread_id=thread.thread_id,
                item_key=thread.item_key,
                filed_at=thread.filed_at,
                follow_until=thread.follow_until,
                gone=False,
            )
            .on_conflict_do_nothing(index_elements=[threads.c.channel_id, threads.c.thread_ts])
            .returning(threads.c.thread_ts)
        )
        with self._db.writing() as conn:
            return conn.execute(statement).first() is not None

    def followed_now(self) -> list[tuple[str, str]]:
        """Every thread followed at this moment (channel, thread ts)."""
        query = sa.select(threads.c.channel_id, threads.c.thread_ts).where(self._active())
        with self._db.reading() as conn:
            return [(str(channel), str(ts)) for channel, ts in conn.execute(query)]

    def followed_fingerprint(self) -> tuple[int, datetime | None]:
        """How many threads are followed, and the latest filing: cheap to read, and it changes
        whenever a replica follows a new thread."""
        query = sa.select(sa.func.count(), sa.func.max(threads.c.filed_at)).where(self._active())
        with self._db.reading() as conn:
            count, latest = conn.execute(query).one()
        return int(count), latest

    def _active(self) -> sa.ColumnElement[bool]:
        return sa.and_(threads.c.follow_until > self.now(), threads.c.gone == sa.false())

    def thread(self, channel_id: str, thread_ts: str) -> FollowedThread | None:
        query = sa.select(threads).where(threads.c.channel_id == channel_id, threads.c.thread_ts == thread_ts)
        with self._db.reading() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return FollowedThread(
            row.channel_id, row.thread_ts, row.thread_id, row.item_key, row.filed_at, row.follow_until
        )

    # -- the ack path: what Slack says about a reply --------------------------------------------

    def add_reply(
        self, channel_id: str, thread_ts: str, ts: str, user_id: str | None, message: dict[str, Any]
    ) -> bool:
        """Keep a new reply in a followed thread (False: already kept — Slack retried, another
        replica had it — or deleted already, or the thread is not followed now)."""
        at = self.now()
        with self._db.writing() as conn:
            followed = conn.execute(
                sa.select(threads.c.thread_ts).where(
                    threads.c.channel_id == channel_id, threads.c.thread_ts == thread_ts, self._active()
                )
            ).first()
            if followed is None:
                return False
            inserted = conn.execute(
                self._db.insert_for(followups)
                .values(
                    key=_key(channel_id, ts),
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    ts=ts,
                    sort_us=ts_micros(ts),
                    user_id=user_id,
                    message=message,
                    status="pending",
                    revision=0,
                    received_at=at,
                )
                .on_conflict_do_nothing(index_elements=[followups.c.key])
                .returning(followups.c.id)
            ).first()
        return inserted is not None

    def edit_reply(
        self, channel_id: str, thread_ts: str, ts: str, message: dict[str, Any], edited_ts: str | None
    ) -> str:
        """A reply was edited in Slack. Not sent yet: the new words replace the old ones. Sent
        already: the edit is a follow-up of its own ("edited"), when its words changed. Returns
        what happened, for the log."""
        at = self.now()
        key = _key(channel_id, ts)
        with self._db.writing() as conn:
            row = conn.execute(sa.select(followups).where(followups.c.key == key).with_for_update()).first()
            if row is None:
                return "not a reply the bot kept"
            if row.status == "pending" or (row.status == "sending" and row.attempted_at is None):
                conn.execute(
                    sa.update(followups)
                    .where(followups.c.key == key)
                    .values(message=message, revision=followups.c.revision + 1)
                )
                return "edited before it was sent"
            if row.status not in ("sent", "sending") or not edited_ts:
                return f"not sent again ({row.status})"
            if _same_words(row.message, message):
                return "no change to its words"
            inserted = conn.execute(
                self._db.insert_for(followups)
                .values(
                    key=f"{key}:edited:{edited_ts}"[:120],
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    ts=ts,
                    sort_us=ts_micros(edited_ts),
                    user_id=row.user_id,
                    message=message,
                    status="pending",
                    revision=0,
                    received_at=at,
                )
                .on_conflict_do_nothing(index_elements=[followups.c.key])
                .returning(followups.c.id)
            ).first()
        return "edited after it was sent: sent again, marked edited" if inserted else "edit kept already"

    def delete_reply(self, channel_id: str, thread_ts: str, ts: str) -> str:
        """A reply was deleted in Slack: never sent if its batch has not gone out (its edits
        neither). One that never arrived is remembered as deleted, so a late copy stays out."""
        at = self.now()
        key = _key(channel_id, ts)
        unsent = sa.or_(
            followups.c.status == "pending",
            sa.and_(followups.c.status == "sending", followups.c.attempted_at.is_(None)),
        )
        mine = sa.or_(followups.c.key == key, followups.c.key.like(f"{key}:edited:%"))
        with self._db.writing() as conn:
            stopped = conn.execute(
                sa.update(followups)
                .where(mine, unsent)
                .values(status="deleted", revision=followups.c.revision + 1, note="deleted in Slack")
            ).rowcount
            if stopped:
                return "deleted before it was sent: never sent"
            conn.execute(
                self._db.insert_for(followups)
                .values(
                    key=key,
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    ts=ts,
                    sort_us=ts_micros(ts),
                    user_id=None,
                    message={},
                    status="deleted",
                    revision=0,
                    received_at=at,
                    note="deleted in Slack",
                )
                .on_conflict_do_nothing(index_elements=[followups.c.key])
            )
        return "deleted (after it was sent, or before it arrived)"

    # -- the sender's side ----------------------------------------------------------------------

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
        return ThreadWork(row.channel_id, row.thread_ts, row.thread_id, row.item_key, row.batch)

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
                    return Batch(
                        str(current["id"]), str(current["route"]), bool(current.get("attempted")), replies
                    )
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
        return tuple(_follow_up(row) for row in conn.execute(query))

    def batch_versions(self, work: ThreadWork, batch: Batch) -> tuple[tuple[str, int, str], ...]:
        with self._db.reading() as conn:
            return tuple(reply.version for reply in self._batch_rows(conn, work, batch.id))

    def set_batch_route(self, work: ThreadWork, owner: str, batch: Batch, route: str) -> Batch:
        """The batch goes another way (comments were refused): nothing of it went out."""
        at = self.now()
        with self._db.writing() as conn:
            conn.execute(
                sa.update(threads)
                .where(self._held(work, owner, at))
                .values(batch={"id": batch.id, "route": route, "attempted": False})
            )
            conn.execute(
                sa.update(followups)
                .where(followups.c.batch_id == batch.id, followups.c.status == "sending")
                .values(attempted_at=None)
            )
        return Batch(batch.id, route, False, batch.replies)

    def mark_attempt(self, work: ThreadWork, owner: str, batch: Batch, lease_seconds: float) -> bool:
        """Record that the batch's write is about to go out (call it *before* sending): True only
        while ``owner`` holds the thread and the batch is still what was composed (no reply of it
        edited or deleted since); the lease is renewed."""
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
                    batch={"id": batch.id, "route": batch.route, "attempted": True},
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
                .values(batch={"id": batch.id, "route": batch.route, "attempted": False})
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
    ) -> bool:
        """Productlane has the batch: its replies are sent (``gone_keys``: those it turned out
        Slack no longer had, deleted), the thread's next write waits, the thread is released."""
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
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts))
                .values(
                    batch=None,
                    next_write_at=next_write_at,
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                )
            )
        return True

    def drop_batch(
        self, work: ThreadWork, owner: str, batch: Batch, note: str, *, gone: bool = False
    ) -> None:
        """Productlane can never take these (the thread is gone, or it refused them): they are
        dropped, with why; a gone thread is followed no more, its waiting follow-ups dropped too."""
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
                .values(status="dropped", note=note[:NOTE_MAX])
            )
            conn.execute(
                sa.update(threads)
                .where(self._thread(work.channel_id, work.thread_ts), threads.c.lease_owner == owner)
                .values(
                    batch=None, gone=gone, lease_owner=None, lease_until=None, last_error=short_error(note)
                )
            )

    # -- copies of files --------------------------------------------------------------------------

    def copies(self, file_ids: Sequence[str]) -> dict[str, CopiedFile]:
        if not file_ids:
            return {}
        query = sa.select(copied_files).where(copied_files.c.file_id.in_(list(file_ids)))
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return {
            row.file_id: CopiedFile(row.url, row.note, row.name, row.permalink, row.content_type)
            for row in rows
        }

    def record_copy(self, work: ThreadWork, owner: str, file_id: str, copy: CopiedFile) -> bool:
        """Keep what became of one file; only while ``owner`` holds the thread."""
        at = self.now()
        values = {
            "file_id": file_id[:64],
            "url": copy.url,
            "note": copy.note[:500] if copy.note else None,
            "name": (copy.name or "")[:255] or None,
            "permalink": copy.permalink,
            "content_type": (copy.content_type or "")[:255] or None,
            "copied_at": at,
        }
        statement = self._db.insert_for(copied_files).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[copied_files.c.file_id],
            set_={name: statement.excluded[name] for name in values if name != "file_id"},
        )
        with self._db.writing() as conn:
            held = conn.execute(
                sa.select(threads.c.thread_ts).where(self._held(work, owner, at)).with_for_update()
            ).first()
            if held is None:
                return False
            conn.execute(statement)
        return True

    # -- the filed submission (the fallback renders the body from it) ----------------------------

    def submission_of(self, item_key: str) -> tuple[int, dict[str, Any]] | None:
        """The outbox item that filed the thread (its id and payload); None once it is purged."""
        query = sa.select(items.c.id, items.c.payload).where(items.c.dedupe_key == item_key)
        with self._db.reading() as conn:
            row = conn.execute(query).first()
        if row is None or not isinstance(row.payload, dict):
            return None
        return int(row.id), row.payload

    def item_copies(self, item_id: int) -> dict[str, CopiedFile]:
        """The copies delivery made of the filed message's files."""
        query = sa.select(item_copies).where(item_copies.c.item_id == item_id)
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return {
            row.file_id: CopiedFile(row.url, row.note, row.name, row.permalink, row.content_type)
            for row in rows
        }

    # -- the route -------------------------------------------------------------------------------

    def route(self, key: str) -> Route | None:
        with self._db.reading() as conn:
            row = conn.execute(sa.select(routes).where(routes.c.key == key)).first()
        return None if row is None else Route(row.route, row.reason, row.since, row.retry_at)

    def routes(self) -> list[Route]:
        """Every key's route (for `check`, which does not know the key)."""
        with self._db.reading() as conn:
            return [Route(r.route, r.reason, r.since, r.retry_at) for r in conn.execute(sa.select(routes))]

    def set_route(self, key: str, route: str, reason: str | None, retry_at: datetime | None) -> None:
        at = self.now()
        values = {
            "route": route,
            "reason": short_error(reason) if reason else None,
            "since": at,
            "retry_at": retry_at,
        }
        statement = self._db.insert_for(routes).values(key=key, **values)
        statement = statement.on_conflict_do_update(index_elements=[routes.c.key], set_=values)
        with self._db.writing() as conn:
            conn.execute(statement)

    # -- no echo ---------------------------------------------------------------------------------

    def is_bot_comment(self, comment_id: str) -> bool:
        """Whether a Productlane comment or message is one the bot wrote from Slack's follow-ups."""
        query = sa.select(followups.c.id).where(followups.c.comment_id == comment_id).limit(1)
        with self._db.reading() as conn:
            return conn.execute(query).first() is not None

    # -- looking and housekeeping ----------------------------------------------------------------

    def replies(self, channel_id: str, thread_ts: str) -> list[FollowUp]:
        """A thread's follow-ups in Slack's order (for tests and operators)."""
        query = (
            sa.select(followups)
            .where(followups.c.channel_id == channel_id, followups.c.thread_ts == thread_ts)
            .order_by(followups.c.sort_us, followups.c.id)
        )
        with self._db.reading() as conn:
            return [_follow_up(row) for row in conn.execute(query)]

    def prune(self, copies_before: datetime) -> int:
        """Forget settled follow-ups older than a week, threads whose window ended a week ago with
        nothing left to send, and copies of files made before ``copies_before`` (older than any
        thread still followed, which the fallback may render again)."""
        at = self.now()
        with self._db.writing() as conn:
            gone = int(
                conn.execute(
                    sa.delete(followups).where(
                        followups.c.status.in_(("sent", "deleted", "dropped")),
                        followups.c.received_at < at - KEEP_SETTLED,
                    )
                ).rowcount
            )
            waiting = sa.exists().where(
                followups.c.channel_id == threads.c.channel_id,
                followups.c.thread_ts == threads.c.thread_ts,
            )
            gone += int(
                conn.execute(
                    sa.delete(threads).where(threads.c.follow_until < at - KEEP_SETTLED, ~waiting)
                ).rowcount
            )
            gone += int(
                conn.execute(sa.delete(copied_files).where(copied_files.c.copied_at < copies_before)).rowcount
            )
        return gone


def _same_words(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    def words(message: Mapping[str, Any]) -> tuple[Any, ...]:
        files = message.get("files")
        ids = tuple(f.get("id") for f in files if isinstance(f, Mapping)) if isinstance(files, list) else ()
        return message.get("text"), ids

    return words(before) == words(after)

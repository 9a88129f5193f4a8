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

The sender's side (leases and batches) is `bot.conversation.sending`; the rows handed out are
`bot.conversation.records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.budgets.file_copies import copy_columns, copy_from_row
from bot.conversation.records import (
    Batch,
    FollowedThread,
    FollowUp,
    Route,
    ThreadWork,
    follow_up_of,
    ts_micros,
)
from bot.conversation.schema import copied_files, followups, threads
from bot.conversation.sending import SenderSide
from bot.feedback.capture import CopiedFile

__all__ = [
    "Batch",
    "FollowUp",
    "FollowUpStore",
    "FollowedThread",
    "RefusedFollowUps",
    "Route",
    "ThreadWork",
    "ts_micros",
]

# Deleted and settled rows are kept this long (a late retry of Slack's event finds its key).
KEEP_SETTLED = timedelta(days=7)
# Refused follow-ups stay longer: the admins' Home shows them until someone has had time to look.
KEEP_REFUSED = timedelta(days=30)


@dataclass(frozen=True)
class RefusedFollowUps:
    """Follow-ups Productlane refused, kept and shown to the admins."""

    count: int
    latest_reason: str | None
    latest_thread_id: str | None


def _key(channel_id: str, ts: str) -> str:
    return f"{channel_id}:{ts}"


class FollowUpStore(SenderSide):
    """The conversation's tables on the outbox's database. Safe to share between threads."""

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
                body_sha256=thread.body_sha256,
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

    # -- copies of files --------------------------------------------------------------------------

    def copies(self, file_ids: Sequence[str]) -> dict[str, CopiedFile]:
        if not file_ids:
            return {}
        query = sa.select(copied_files).where(copied_files.c.file_id.in_(list(file_ids)))
        with self._db.reading() as conn:
            rows = conn.execute(query).all()
        return {row.file_id: copy_from_row(row) for row in rows}

    def record_copy(self, work: ThreadWork, owner: str, file_id: str, copy: CopiedFile) -> bool:
        """Keep what became of one file; only while ``owner`` holds the thread."""
        at = self.now()
        values = {"file_id": file_id[:64], **copy_columns(copy), "copied_at": at}
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

    # -- the route (per thread) and what was refused -----------------------------------------------

    def thread_route(self, channel_id: str, thread_ts: str) -> Route | None:
        """The thread's route when it is not comments (None: comments)."""
        query = sa.select(threads).where(threads.c.channel_id == channel_id, threads.c.thread_ts == thread_ts)
        with self._db.reading() as conn:
            row = conn.execute(query).first()
        if row is None or not row.route or row.route == "comments":
            return None
        return Route(row.route, row.route_reason, row.route_since or self.now(), row.route_retry_at)

    def routes(self) -> list[Route]:
        """The routes of followed threads that do not go as comments, latest first (for `check`)."""
        query = (
            sa.select(
                threads.c.route, threads.c.route_reason, threads.c.route_since, threads.c.route_retry_at
            )
            .where(threads.c.route.is_not(None), threads.c.route != "comments", self._active())
            .order_by(threads.c.route_since.desc())
        )
        with self._db.reading() as conn:
            return [
                Route(r.route, r.route_reason, r.route_since or self.now(), r.route_retry_at)
                for r in conn.execute(query)
            ]

    def refused(self) -> RefusedFollowUps:
        """How many follow-ups Productlane refused (kept, never sent), and the latest's reason and
        thread: what the admins' Home shows."""
        count = sa.select(sa.func.count()).select_from(followups).where(followups.c.refusal.is_not(None))
        latest = (
            sa.select(followups.c.refusal, threads.c.thread_id)
            .join(
                threads,
                sa.and_(
                    threads.c.channel_id == followups.c.channel_id,
                    threads.c.thread_ts == followups.c.thread_ts,
                ),
            )
            .where(followups.c.refusal.is_not(None))
            .order_by(followups.c.id.desc())
            .limit(1)
        )
        with self._db.reading() as conn:
            total = int(conn.execute(count).scalar_one())
            row = conn.execute(latest).first() if total else None
        return RefusedFollowUps(
            total, None if row is None else str(row.refusal), None if row is None else str(row.thread_id)
        )

    def has_reply(self, channel_id: str, ts: str) -> bool:
        """Whether this reply is kept (in whatever state: waiting, sent, deleted, dropped)."""
        query = sa.select(followups.c.id).where(followups.c.key == _key(channel_id, ts))
        with self._db.reading() as conn:
            return conn.execute(query).first() is not None

    def withheld(self, channel_id: str, thread_ts: str) -> frozenset[str]:
        """The ts of a thread's replies that must never reach Productlane: dropped (refused for
        their content, kept for the admins) — a body rendered again from Slack leaves them out."""
        query = sa.select(followups.c.ts).where(
            followups.c.channel_id == channel_id,
            followups.c.thread_ts == thread_ts,
            followups.c.status == "dropped",
        )
        with self._db.reading() as conn:
            return frozenset(str(ts) for ts in conn.execute(query).scalars())

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
            return [follow_up_of(row) for row in conn.execute(query)]

    def prune(self, copies_before: datetime, retention: timedelta | None = None) -> int:
        """Forget settled follow-ups older than a week (refused ones, a month), threads whose window
        ended a week ago with nothing left to send, and copies of files made before
        ``copies_before`` (older than any thread still followed, which the fallback may render
        again). A follow-up holds a person's words: none is kept past ``retention``
        (OUTBOX_RETENTION_DAYS) either, whichever comes first."""
        at = self.now()
        settled, refused = KEEP_SETTLED, KEEP_REFUSED
        if retention is not None:
            settled, refused = min(settled, retention), min(refused, retention)
        still_followed = sa.exists().where(
            threads.c.channel_id == followups.c.channel_id,
            threads.c.thread_ts == followups.c.thread_ts,
            threads.c.follow_until > at,
        )
        with self._db.writing() as conn:
            if retention is not None:
                # Kept only to be left out of the body: past the retention its words go, its row stays.
                conn.execute(
                    sa.update(followups)
                    .where(
                        followups.c.refusal.is_not(None),
                        followups.c.received_at < at - retention,
                        still_followed,
                    )
                    .values(message={})
                )
            gone = int(
                conn.execute(
                    sa.delete(followups).where(
                        followups.c.status.in_(("sent", "deleted", "dropped")),
                        followups.c.received_at < at - settled,
                        sa.or_(followups.c.refusal.is_(None), followups.c.received_at < at - refused),
                        # A refused reply is kept while its thread is followed: the body rendered
                        # again from Slack must go on leaving it out.
                        ~sa.and_(followups.c.refusal.is_not(None), still_followed),
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

"""The updates' tables: the event inbox, the threads' Slack side, their links, the Slack effects.

It runs on the outbox's database and engine (`Outbox.writing()` / `Outbox.reading()`), with the
outbox's patterns for work shared by replicas: a claim marks rows as taken under a lease, picked
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and inside SQLite's ``BEGIN IMMEDIATE`` (one writer
at a time); only the lease owner may settle a row, and a row whose lease ran out (its worker
died) is claimable again.

An event is applied in one transaction: the event row (still ours?), the thread's state and
links, the effects it queues, and the event marked applied. So each event changes the state
once, whichever replica received it and however often Productlane delivered it (what applying
writes is `bot.updates.applying`; the rows handed out are `bot.updates.records`).

Other features ask it for what they show of a thread (`thread_facts`, `submitters_of`) instead of
reading these tables.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import Database
from bot.updates.applying import links_of, load_state, queue_effect, save_state, threads_for
from bot.updates.decide import Decision, Switches, decide
from bot.updates.events import Change
from bot.updates.forgetting import forget_confirmations, is_forgotten
from bot.updates.records import (
    REPLY_KINDS,
    NewEvent,
    SlackSide,
    StoredEffect,
    StoredEvent,
    ThreadFacts,
    confirmation_of,
    link_of,
)
from bot.updates.remember import RememberedThread
from bot.updates.schema import effects, events, links, threads
from bot.updates.state import Link, Status, ThreadState

__all__ = ["NewEvent", "SlackSide", "StoredEffect", "StoredEvent", "ThreadFacts", "UpdatesStore"]

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
_POLLED_STATUSES = (Status.OPEN.value, Status.SNOOZED.value)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _known_status(value: object) -> Status | None:
    try:
        return Status(str(value)) if value else None
    except ValueError:
        return None


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class UpdatesStore:
    """The updates' tables on the outbox's database. Safe to share between threads."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = _utc_now,
        on_threads_changed: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        # Told, once an event's transaction is committed, which threads' status or links it changed
        # (the App Home shows them). Never raises; must not wait.
        self._on_threads_changed = on_threads_changed
        self._dialect = db.engine.dialect.name

    def now(self) -> datetime:
        value = self._clock()
        if value.tzinfo is None:
            raise ValueError("naive datetime: the clock must give timezone-aware (UTC) times")
        return value.astimezone(UTC)

    def _writing(self) -> AbstractContextManager[Connection]:
        # The outbox's write transaction: on SQLite it queues this process's writers, so a burst
        # of webhooks or a busy worker never starves an ack's insert (see Outbox._write).
        return self._db.writing()

    def _insert(self, table: sa.Table) -> Any:
        return self._db.insert_for(table)

    # -- the inbox ------------------------------------------------------------------------------

    def add_event(self, event_id: str, event_type: str, payload: dict[str, Any]) -> bool:
        """Persist an event, due at once. False when its id is already in (a redelivery)."""
        return self.add_events([NewEvent(event_id, event_type, payload)])[0]

    def add_events(self, new: Sequence[NewEvent]) -> list[bool]:
        """Persist several events in one statement; for each, False when its id was already in
        (stored before, or earlier in the same batch)."""
        if not new:
            return []
        at = self.now()
        first: dict[str, int] = {}
        for index, event in enumerate(new):
            first.setdefault(event.event_id, index)
        rows = [
            {
                "event_id": new[index].event_id,
                "event_type": new[index].event_type,
                "payload": new[index].payload,
                "status": "pending",
                "attempts": 0,
                "received_at": at,
                "next_attempt_at": at,
            }
            for index in first.values()
        ]
        statement = (
            self._insert(events)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[events.c.event_id])
            .returning(events.c.event_id)
        )
        with self._writing() as conn:
            # Only inserted rows come back (rowcount is not reliable here on psycopg).
            inserted = set(conn.execute(statement).scalars())
        return [first[e.event_id] == index and e.event_id in inserted for index, e in enumerate(new)]

    def claim_events(self, owner: str, limit: int, lease_seconds: float) -> list[StoredEvent]:
        """Take up to ``limit`` due events (oldest first) for ``owner`` under a lease."""
        rows = self._claim(events, "applying", owner, limit, lease_seconds, (events.c.id,))
        return [
            StoredEvent(
                id=int(r.id),
                event_id=r.event_id,
                event_type=r.event_type,
                payload=r.payload if isinstance(r.payload, dict) else {},
                attempts=int(r.attempts),
            )
            for r in rows
        ]

    def retry_event(self, event: StoredEvent, owner: str, at: datetime, error: str) -> bool:
        """Back to pending, due at ``at`` (after an unexpected failure). Only the owner may."""
        with self._writing() as conn:
            return (
                int(
                    conn.execute(
                        sa.update(events)
                        .where(events.c.id == event.id, events.c.lease_owner == owner)
                        .values(
                            status="pending",
                            next_attempt_at=at,
                            last_error=_short(error),
                            lease_owner=None,
                            lease_until=None,
                        )
                    ).rowcount
                )
                == 1
            )

    def apply(
        self,
        event: StoredEvent,
        owner: str,
        change: Change | None,
        switches: Switches,
        decider: Callable[[ThreadState, Change, Switches], Decision] = decide,
    ) -> str | None:
        """Apply ``change`` to the threads it concerns and mark the event applied, in one
        transaction. Returns what happened, or None when the lease was lost (nothing changed)."""
        at = self.now()
        with self._writing() as conn:
            held = conn.execute(
                sa.select(events.c.id)
                .where(events.c.id == event.id, events.c.status == "applying", events.c.lease_owner == owner)
                .with_for_update()
            ).first()
            if held is None:
                return None
            outcome = "ignored"
            changed: list[str] = []
            if change is not None:
                notes: list[str] = []
                for thread_id in threads_for(conn, change):
                    state = load_state(conn, thread_id)
                    if state is None:
                        continue
                    decision = decider(state, change, switches)
                    if decision.state != state:
                        changed.append(thread_id)
                    save_state(self._db, conn, state, decision.state, at)
                    for effect in decision.effects:
                        queue_effect(self._db, conn, effect, at)
                    notes.append(decision.note)
                outcome = "; ".join(notes) if notes else "not a thread the bot created"
            conn.execute(
                sa.update(events)
                .where(events.c.id == event.id)
                .values(
                    status="applied",
                    applied_at=at,
                    outcome=outcome[:200],
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                )
            )
        if changed and self._on_threads_changed is not None:
            self._on_threads_changed(changed)
        return outcome

    # -- threads --------------------------------------------------------------------------------

    def remember(self, record: RememberedThread, *, poll_after: float = 60.0) -> None:
        """Keep the Slack side of a thread the bot created. Remembering it again updates where
        its confirmation is; what Slack was told of it stays."""
        at = self.now()
        place = {
            "channel_id": record.channel_id,
            "thread_ts": record.thread_ts,
            "reply_channel_id": record.reply_channel_id,
            "reply_ts": record.reply_ts,
            "confirmation": dataclasses.asdict(record.confirmation),
            "updated_at": at,
        }
        status = Status(record.status) if record.status in (*_POLLED_STATUSES, "done") else Status.OPEN
        statement = (
            self._insert(threads)
            .values(
                thread_id=record.thread_id,
                is_slack_connect=record.is_slack_connect,
                status=status.value,
                status_as_of=_aware(record.status_as_of),
                # A thread created as done needs no "done" announcement.
                done_reached=status is Status.DONE,
                shipped_reached=False,
                remembered_at=at,
                next_poll_at=at + timedelta(seconds=poll_after),
                **place,
            )
            .on_conflict_do_update(index_elements=[threads.c.thread_id], set_=place)
        )
        with self._writing() as conn:
            conn.execute(statement)

    def is_remembered(self, thread_id: str) -> bool:
        with self._db.reading() as conn:
            found = conn.execute(
                sa.select(threads.c.thread_id).where(threads.c.thread_id == thread_id)
            ).first()
        return found is not None

    def known_links(self, thread_id: str) -> set[str]:
        """The need ids already recorded for a thread."""
        with self._db.reading() as conn:
            return set(
                conn.execute(sa.select(links.c.need_id).where(links.c.thread_id == thread_id)).scalars()
            )

    def known_name(self, kind: str, target_id: str) -> str | None:
        """A name already recorded for an issue or project."""
        target, name = (
            (links.c.issue_id, links.c.issue_name)
            if kind == "issue"
            else (links.c.project_id, links.c.project_name)
        )
        with self._db.reading() as conn:
            return conn.execute(
                sa.select(name).where(target == target_id, name.is_not(None)).limit(1)
            ).scalar_one_or_none()

    def is_linked(self, kind: str, target_id: str) -> bool:
        target = links.c.issue_id if kind == "issue" else links.c.project_id
        with self._db.reading() as conn:
            found = conn.execute(
                sa.select(links.c.need_id).where(target == target_id, links.c.removed == sa.false()).limit(1)
            ).first()
        return found is not None

    def slack_side(self, thread_id: str) -> SlackSide | None:
        with self._db.reading() as conn:
            row = conn.execute(sa.select(threads).where(threads.c.thread_id == thread_id)).first()
            if row is None:
                return None
            found = links_of(conn, thread_id)
        return SlackSide(
            thread_id=thread_id,
            channel_id=row.channel_id,
            thread_ts=row.thread_ts,
            reply_channel_id=row.reply_channel_id,
            reply_ts=row.reply_ts,
            is_slack_connect=bool(row.is_slack_connect),
            confirmation=confirmation_of(row.confirmation),
            confirmation_forgotten=is_forgotten(row.confirmation),
            status=Status(row.status),
            links=tuple(link_of(r) for r in found),
        )

    def thread_state(self, thread_id: str) -> ThreadState | None:
        """The state as the decisions see it (for tests and operators)."""
        with self._db.reading() as conn:
            return load_state(conn, thread_id)

    def thread_facts(self, thread_ids: Iterable[str]) -> dict[str, ThreadFacts]:
        """Each thread's status and live links as the updates last heard them, by key (a thread
        neither remembered nor linked is left out)."""
        wanted = sorted(set(thread_ids))
        if not wanted:
            return {}
        statuses: dict[str, Status | None] = {}
        found: dict[str, list[Link]] = {}
        live = (
            sa.select(links)
            .where(links.c.thread_id.in_(wanted), links.c.removed == sa.false())
            .order_by(links.c.created_at, links.c.need_id)
        )
        with self._db.reading() as conn:
            for thread_id, status in conn.execute(
                sa.select(threads.c.thread_id, threads.c.status).where(threads.c.thread_id.in_(wanted))
            ):
                statuses[str(thread_id)] = _known_status(status)
            for row in conn.execute(live):
                found.setdefault(str(row.thread_id), []).append(link_of(row))
        facts = {thread_id: ThreadFacts(status) for thread_id, status in statuses.items()}
        for thread_id, thread_links in found.items():
            facts[thread_id] = ThreadFacts(statuses.get(thread_id), tuple(thread_links))
        return facts

    def submitters_of(self, thread_ids: Iterable[str]) -> set[str]:
        """Who submitted each thread, as the confirmation remembered for it says."""
        query = sa.select(threads.c.confirmation["submitter_id"].as_string()).where(
            threads.c.thread_id.in_(sorted(set(thread_ids)))
        )
        with self._db.reading() as conn:
            return {str(found) for found in conn.execute(query).scalars() if found}

    # -- polling --------------------------------------------------------------------------------

    def claim_poll(self, interval_seconds: float, window: timedelta) -> str | None:
        """One thread due for a look (not done, remembered within ``window``), pushed to the
        next interval; None when none is due. Replicas share the turn: each thread is looked at
        by one of them per interval."""
        at = self.now()
        due = sa.and_(
            threads.c.status.in_(_POLLED_STATUSES),
            threads.c.next_poll_at <= at,
            threads.c.remembered_at >= at - window,
        )
        with self._db.reading() as conn:
            if conn.execute(sa.select(threads.c.thread_id).where(due).limit(1)).first() is None:
                return None
        with self._writing() as conn:
            thread_id = conn.execute(
                sa.select(threads.c.thread_id)
                .where(due)
                .order_by(threads.c.next_poll_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if thread_id is None:
                return None
            moved = conn.execute(
                sa.update(threads)
                .where(threads.c.thread_id == thread_id, due)
                .values(next_poll_at=at + timedelta(seconds=interval_seconds))
            ).rowcount
        return str(thread_id) if moved == 1 else None

    def release_poll(self, thread_id: str) -> None:
        """Give a claimed look back (the read budget ran out): due again at once."""
        with self._writing() as conn:
            conn.execute(
                sa.update(threads).where(threads.c.thread_id == thread_id).values(next_poll_at=self.now())
            )

    # -- effects --------------------------------------------------------------------------------

    def claim_effects(self, owner: str, limit: int, lease_seconds: float) -> list[StoredEffect]:
        """Due effects, oldest first. The team's replies go in order: a thread's reply is not
        claimed while an earlier one of the same thread waits (a retry) or is being sent (by any
        replica), so a Slack thread never shows them shuffled."""
        earlier = effects.alias("earlier_reply")
        in_order = sa.or_(
            effects.c.kind.not_in(REPLY_KINDS),
            ~sa.exists().where(
                earlier.c.thread_id == effects.c.thread_id,
                earlier.c.kind.in_(REPLY_KINDS),
                earlier.c.status.in_(("pending", "sending")),
                earlier.c.id < effects.c.id,
            ),
        )
        rows = self._claim(
            effects,
            "sending",
            owner,
            limit,
            lease_seconds,
            (effects.c.next_attempt_at, effects.c.id),
            extra=in_order,
        )
        return [
            StoredEffect(
                id=int(r.id),
                effect_key=r.effect_key,
                thread_id=r.thread_id,
                kind=r.kind,
                text=r.text,
                generation=int(r.generation),
                attempts=int(r.attempts),
            )
            for r in rows
        ]

    def next_retry_at(self) -> datetime | None:
        """When the first event or effect waiting for a retry comes due; None when none waits."""
        first = [
            sa.select(sa.func.min(table.c.next_attempt_at))
            .where(table.c.status == "pending")
            .scalar_subquery()
            for table in (events, effects)
        ]
        with self._db.reading() as conn:
            due = [_aware(at) for at in conn.execute(sa.select(*first)).one()]
        return min((at for at in due if at is not None), default=None)

    def effect_sent(self, effect: StoredEffect, owner: str) -> None:
        at = self.now()
        mine = sa.and_(
            effects.c.id == effect.id, effects.c.lease_owner == owner, effects.c.status == "sending"
        )
        with self._writing() as conn:
            done = conn.execute(
                sa.update(effects)
                .where(mine, effects.c.generation == effect.generation)
                .values(status="done", lease_owner=None, lease_until=None, last_error=None, updated_at=at)
            ).rowcount
            if done == 0:
                # Asked for again while this send was under way: send the newer state too.
                conn.execute(
                    sa.update(effects)
                    .where(mine)
                    .values(
                        status="pending",
                        lease_owner=None,
                        lease_until=None,
                        next_attempt_at=at,
                        updated_at=at,
                    )
                )

    def effect_retry(
        self, effect: StoredEffect, owner: str, at: datetime, error: str, *, count_attempt: bool = True
    ) -> None:
        with self._writing() as conn:
            conn.execute(
                sa.update(effects)
                .where(effects.c.id == effect.id, effects.c.lease_owner == owner)
                .values(
                    status="pending",
                    next_attempt_at=at,
                    attempts=effect.attempts + (1 if count_attempt else 0),
                    last_error=_short(error),
                    lease_owner=None,
                    lease_until=None,
                    updated_at=self.now(),
                )
            )

    def effect_dropped(self, effect: StoredEffect, owner: str, error: str) -> None:
        with self._writing() as conn:
            conn.execute(
                sa.update(effects)
                .where(effects.c.id == effect.id, effects.c.lease_owner == owner)
                .values(
                    status="dropped",
                    attempts=effect.attempts + 1,
                    last_error=_short(error),
                    lease_owner=None,
                    lease_until=None,
                    updated_at=self.now(),
                )
            )

    # -- looking and housekeeping ---------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Events and effects by status, e.g. ``{"events.pending": 3, "effects.done": 7}``."""
        result: dict[str, int] = {}
        with self._db.reading() as conn:
            for name, table in (("events", events), ("effects", effects)):
                for status, count in conn.execute(
                    sa.select(table.c.status, sa.func.count()).group_by(table.c.status)
                ):
                    result[f"{name}.{status}"] = int(count)
        return result

    def forget_confirmations(self, before: datetime) -> int:
        """Retention: the words of confirmations remembered before ``before`` (`bot.updates.forgetting`)."""
        return forget_confirmations(self._db, before)

    def prune(self, before: datetime) -> int:
        """Forget applied events and settled effects last changed before ``before``.

        An event id must outlive Productlane's retries (1 min … 24 h, about 33 h in all) so a late
        redelivery is still recognised: prune only well after that.
        """
        with self._writing() as conn:
            gone = conn.execute(
                sa.delete(events).where(events.c.status == "applied", events.c.applied_at < before)
            ).rowcount
            gone += conn.execute(
                sa.delete(effects).where(
                    effects.c.status.in_(("done", "dropped")), effects.c.updated_at < before
                )
            ).rowcount
        return int(gone)

    # -- plumbing -------------------------------------------------------------------------------

    def _claim(
        self,
        table: sa.Table,
        active: str,
        owner: str,
        limit: int,
        lease_seconds: float,
        order: Iterable[sa.ColumnElement[Any]],
        *,
        extra: sa.ColumnElement[bool] | None = None,
    ) -> list[sa.Row[Any]]:
        if not owner or limit < 1 or lease_seconds <= 0:
            raise ValueError("a claim needs an owner, limit >= 1 and lease_seconds > 0")
        at = self.now()
        due = sa.or_(
            sa.and_(table.c.status == "pending", table.c.next_attempt_at <= at),
            sa.and_(table.c.status == active, table.c.lease_until <= at),
        )
        if extra is not None:
            due = sa.and_(due, extra)
        pick = (
            sa.select(table.c.id).where(due).order_by(*order).limit(limit).with_for_update(skip_locked=True)
        )
        values: dict[str, Any] = {
            "status": active,
            "lease_owner": owner,
            "lease_until": at + timedelta(seconds=lease_seconds),
        }
        if table is events:
            values["attempts"] = table.c.attempts + 1
        # Most calls find nothing due: look first without SQLite's write lock, so an idle worker
        # never makes an ack's insert wait.
        with self._db.reading() as conn:
            if conn.execute(sa.select(table.c.id).where(due).limit(1)).first() is None:
                return []
        with self._writing() as conn:
            ids = list(conn.execute(pick).scalars())
            if not ids:
                return []
            rows = conn.execute(
                sa.update(table).where(table.c.id.in_(ids), due).values(**values).returning(*table.c)
            ).all()
        return sorted(rows, key=lambda row: [row._mapping[c.name] for c in order])

"""Applying one event's decision to the updates' tables, inside the transaction `UpdatesStore.apply`
holds: which threads a change concerns, their state as the decisions see it, the state and links
saved, and the effects queued (each once, however often the event is delivered).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import Database
from bot.updates.decide import EditConfirmation, Effect, PostMilestone, PostReply
from bot.updates.events import (
    Change,
    LinkAdded,
    LinkRemoved,
    MessageSent,
    TargetCompleted,
    ThreadRemoved,
    ThreadSnapshot,
)
from bot.updates.records import REPLY, REPLY_UNSURE, link_of
from bot.updates.schema import effects, links, threads
from bot.updates.state import Status, ThreadState

__all__ = ["links_of", "load_state", "queue_effect", "save_state", "threads_for"]


def threads_for(conn: Connection, change: Change) -> list[str]:
    if isinstance(change, ThreadSnapshot | ThreadRemoved | MessageSent):
        return [change.thread_id]
    if isinstance(change, LinkAdded | LinkRemoved):
        return [change.need.thread_id]
    assert isinstance(change, TargetCompleted)  # noqa: S101 - the union's last member
    target = links.c.issue_id if change.kind == "issue" else links.c.project_id
    query = (
        sa.select(links.c.thread_id)
        .where(target == change.target_id, links.c.removed == sa.false())
        .distinct()
        .order_by(links.c.thread_id)
    )
    return list(conn.execute(query).scalars())


def load_state(conn: Connection, thread_id: str) -> ThreadState | None:
    row = conn.execute(sa.select(threads).where(threads.c.thread_id == thread_id).with_for_update()).first()
    if row is None:
        return None
    found = links_of(conn, thread_id)
    return ThreadState(
        thread_id=thread_id,
        status=Status(row.status),
        status_as_of=row.status_as_of,
        links=tuple(link_of(r) for r in found),
        done_reached=bool(row.done_reached),
        shipped_reached=bool(row.shipped_reached),
        is_slack_connect=bool(row.is_slack_connect),
    )


def save_state(db: Database, conn: Connection, old: ThreadState, new: ThreadState, at: datetime) -> None:
    if (old.status, old.status_as_of, old.done_reached, old.shipped_reached) != (
        new.status,
        new.status_as_of,
        new.done_reached,
        new.shipped_reached,
    ):
        conn.execute(
            sa.update(threads)
            .where(threads.c.thread_id == new.thread_id)
            .values(
                status=new.status.value,
                status_as_of=new.status_as_of,
                done_reached=new.done_reached,
                shipped_reached=new.shipped_reached,
                updated_at=at,
            )
        )
    before = {link.need_id: link for link in old.links}
    for link in new.links:
        if before.get(link.need_id) == link:
            continue
        values = {
            "thread_id": new.thread_id,
            "issue_id": link.issue_id,
            "project_id": link.project_id,
            "issue_name": (link.issue_name or "")[:512] or None,
            "project_name": (link.project_name or "")[:512] or None,
            "removed": link.removed,
            "completed": link.completed,
        }
        conn.execute(
            db.insert_for(links)
            .values(need_id=link.need_id, created_at=at, **values)
            .on_conflict_do_update(index_elements=[links.c.need_id], set_=values)
        )


def queue_effect(db: Database, conn: Connection, effect: Effect, at: datetime) -> None:
    common = {
        "thread_id": effect.thread_id,
        "status": "pending",
        "generation": 0,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
    }
    if isinstance(effect, PostReply):
        # Keyed by Productlane's message id: however many events carry it, it is posted once.
        conn.execute(
            db.insert_for(effects)
            .values(
                effect_key=f"reply:{effect.message_id}"[:255],
                kind=REPLY if effect.to_customer else REPLY_UNSURE,
                text=effect.text,
                **common,
            )
            .on_conflict_do_nothing(index_elements=[effects.c.effect_key])
        )
        return
    if isinstance(effect, PostMilestone):
        # Keyed by milestone and thread: a second "done" for one thread is never queued.
        conn.execute(
            db.insert_for(effects)
            .values(
                effect_key=f"{effect.milestone}:{effect.thread_id}",
                kind="post",
                text=effect.text,
                **common,
            )
            .on_conflict_do_nothing(index_elements=[effects.c.effect_key])
        )
        return
    assert isinstance(effect, EditConfirmation)  # noqa: S101 - the union's last member
    # One edit row per thread, asked for again with a new generation: the edit renders the
    # latest state when it is sent, and a send of an older generation is sent again.
    conn.execute(
        db.insert_for(effects)
        .values(effect_key=f"edit:{effect.thread_id}", kind="edit", text=None, **common)
        .on_conflict_do_update(
            index_elements=[effects.c.effect_key],
            set_={
                "generation": effects.c.generation + 1,
                "status": sa.case((effects.c.status == "sending", "sending"), else_="pending"),
                "attempts": 0,
                "next_attempt_at": at,
                "last_error": None,
                "updated_at": at,
            },
        )
    )


def links_of(conn: Connection, thread_id: str) -> list[sa.Row[Any]]:
    """The thread's links to issues and projects, oldest first."""
    query = (
        sa.select(links).where(links.c.thread_id == thread_id).order_by(links.c.created_at, links.c.need_id)
    )
    return list(conn.execute(query).all())

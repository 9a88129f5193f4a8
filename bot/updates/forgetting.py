"""Forgetting a confirmation's words with the submission they came from (`OUTBOX_RETENTION_DAYS`).

A remembered thread keeps what its confirmation reply said (title, contact name and email, the
triage's names) so the reply can be rendered again with a status. Those are the customer's details:
once the delivered submission is purged, they go too. What is left says where news about the thread
goes in Slack (channel, thread, the reply's place), its link and who submitted it — no words of the
customer's — so "done", "shipped" and the team's replies still arrive; the reply itself is no longer
edited, since it could not be rendered again without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.db import Database
from bot.updates.schema import threads

__all__ = ["FORGOTTEN", "forget_confirmations", "forgotten_confirmation", "is_forgotten"]

FORGOTTEN = "forgotten"
"""The key a forgotten confirmation carries."""
KEPT = ("thread_url", "submitter_id")
"""What a forgotten confirmation keeps: the thread's link and the submitter's Slack user id."""


def forgotten_confirmation(confirmation: Any) -> dict[str, Any]:
    """The confirmation without the customer's words: only `KEPT`, marked `FORGOTTEN`."""
    data = confirmation if isinstance(confirmation, Mapping) else {}
    return {name: data[name] for name in KEPT if isinstance(data.get(name), str)} | {FORGOTTEN: True}


def is_forgotten(confirmation: Any) -> bool:
    return isinstance(confirmation, Mapping) and confirmation.get(FORGOTTEN) is True


def forget_confirmations(db: Database, before: datetime, *, batch: int = 500) -> int:
    """Forget the words of every confirmation remembered before ``before``; how many were changed.
    In small transactions (SQLite's write lock is shared with the ack path)."""
    cutoff = db.now(before)
    not_yet = threads.c.confirmation[FORGOTTEN].as_boolean().is_(None)
    query = (
        sa.select(threads.c.thread_id, threads.c.confirmation)
        .where(threads.c.remembered_at < cutoff, not_yet)
        .order_by(threads.c.thread_id)
        .limit(batch)
    )
    total = 0
    while True:
        with db.writing() as conn:
            rows = conn.execute(query).all()
            for thread_id, confirmation in rows:
                conn.execute(
                    sa.update(threads)
                    .where(threads.c.thread_id == thread_id)
                    .values(confirmation=forgotten_confirmation(confirmation))
                )
        total += len(rows)
        if len(rows) < batch:
            return total

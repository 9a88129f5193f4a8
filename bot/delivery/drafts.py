"""Modal drafts kept in the outbox's database, so they outlive a restart (and serve every replica)."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import ValidationError

from bot.db import Database
from bot.delivery.schema import modal_drafts
from bot.feedback.submission import Draft

# A modal nobody submitted within a week is abandoned.
KEEP_FOR = timedelta(days=7)
PRUNE_EVERY = 500  # puts between two clean-ups
# Drafts kept in memory as well (a few KB each: the message the modal was opened on).
RECENT_DRAFTS = 256


class SqlDraftStore:
    """The DraftStore the app uses: one row per opened modal.

    The drafts this process opened most recently are also kept in memory, as the validated objects:
    the submission's ack then needs no database read and no parsing. The database stays the
    source of truth for a modal opened before a restart or by another replica.
    """

    def __init__(self, db: Database, *, remember: int = RECENT_DRAFTS) -> None:
        self._db = db
        self._recent: OrderedDict[str, Draft] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._remember = remember
        # Read on the submission's ack path: the statement is built once.
        self._get_statement = sa.select(modal_drafts.c.payload).where(
            modal_drafts.c.id == sa.bindparam("draft_id")
        )
        self._puts = itertools.count(1)

    def put(self, draft: Draft) -> None:
        now = datetime.now(UTC)
        with self._db.writing() as connection:
            connection.execute(
                sa.insert(modal_drafts).values(
                    id=draft.draft_id, payload=draft.model_dump(mode="json"), created_at=now
                )
            )
            if next(self._puts) % PRUNE_EVERY == 0:
                connection.execute(sa.delete(modal_drafts).where(modal_drafts.c.created_at < now - KEEP_FOR))
        self._keep(draft)

    def _keep(self, draft: Draft) -> None:
        with self._recent_lock:
            self._recent[draft.draft_id] = draft
            self._recent.move_to_end(draft.draft_id)
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)

    def get(self, draft_id: str) -> Draft | None:
        with self._recent_lock:
            recent = self._recent.get(draft_id)
        if recent is not None:
            return recent
        # On the submission's ack path: a read that takes no write lock.
        with self._db.reading() as connection:
            payload = connection.execute(self._get_statement, {"draft_id": draft_id}).scalar_one_or_none()
        if not isinstance(payload, dict):
            return None
        try:
            draft = Draft.model_validate(payload)
        except ValidationError:
            return None
        self._keep(draft)
        return draft

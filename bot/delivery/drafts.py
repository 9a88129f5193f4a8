"""Modal drafts kept in the outbox's database, so they outlive a restart (and serve every replica)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import ValidationError

from bot.delivery.outbox import Outbox
from bot.delivery.schema import modal_drafts
from bot.feedback.submission import Draft

# A modal nobody submitted within a week is abandoned.
KEEP_FOR = timedelta(days=7)
PRUNE_EVERY = 500  # puts between two clean-ups


class SqlDraftStore:
    """The DraftStore the app uses: one row per opened modal."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        # Read on the submission's ack path: the statement is built once.
        self._get_statement = sa.select(modal_drafts.c.payload).where(
            modal_drafts.c.id == sa.bindparam("draft_id")
        )
        self._puts = itertools.count(1)

    def put(self, draft: Draft) -> None:
        now = datetime.now(UTC)
        with self._outbox.writing() as connection:
            connection.execute(
                sa.insert(modal_drafts).values(
                    id=draft.draft_id, payload=draft.model_dump(mode="json"), created_at=now
                )
            )
            if next(self._puts) % PRUNE_EVERY == 0:
                connection.execute(sa.delete(modal_drafts).where(modal_drafts.c.created_at < now - KEEP_FOR))

    def get(self, draft_id: str) -> Draft | None:
        # On the submission's ack path: a read that takes no write lock.
        with self._outbox.reading() as connection:
            payload = connection.execute(self._get_statement, {"draft_id": draft_id}).scalar_one_or_none()
        if not isinstance(payload, dict):
            return None
        try:
            return Draft.model_validate(payload)
        except ValidationError:
            return None

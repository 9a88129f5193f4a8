"""The Home tab's table, on the outbox's database and metadata: who opened their Home when, and whose
Home shows something that has changed since it was published.

Kept in the database, not in memory, because a person's Home is opened through one replica while
their submission is delivered (or its status changes) on another: whichever replica sees the change
marks it, and publishing is coalesced across replicas by ``published_at``. A new table needs no
migration step (``create_all`` adds it on start).
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.db.schema import metadata
from bot.db.types import UtcMicros

__all__ = ["home_views"]

home_views = sa.Table(
    "home_views",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    # When the person last opened their Home tab: changes republish it only within the hour after.
    sa.Column("opened_at", UtcMicros, nullable=False),
    # When their Home was last published (by any replica): republishing waits a few seconds after.
    sa.Column("published_at", UtcMicros, nullable=True),
    # Since when what their Home shows is out of date (None: it is current).
    sa.Column("stale_since", UtcMicros, nullable=True),
    sa.Index("home_views_stale", "stale_since"),
)

"""The catalog's tables, on the outbox's database and metadata (as `bot.updates.schema`).

* ``catalog_entries`` — every company, project, issue, tag and member read from Productlane: an id,
  a name, what else it is found by. No text of anyone's feedback.
* ``catalog_kinds`` — one row per list: whether the key can read it, a version bumped whenever
  its entries change (each process reloads a list when its version moves), when it is next
  refreshed, and the lease of the one process refreshing it now.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.db.schema import metadata
from bot.db.types import JSON, UtcMicros

__all__ = ["KIND_STATUSES", "entries", "kinds"]

KIND_STATUSES = ("unknown", "ok", "unavailable", "failed")

entries = sa.Table(
    "catalog_entries",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("aliases", JSON, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False),
)

kinds = sa.Table(
    "catalog_kinds",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    # unknown (never read), ok, unavailable (the key may not read it), failed (last refresh failed;
    # the entries kept are the last good ones).
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    # Why it is unavailable or failed, for `check` and the log: never key material.
    sa.Column("detail", sa.String(500), nullable=True),
    sa.Column("refreshed_at", UtcMicros, nullable=True),
    sa.Column("next_refresh_at", UtcMicros, nullable=False),
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", UtcMicros, nullable=True),
)

TABLES = (entries, kinds)

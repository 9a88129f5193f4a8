"""The shared budgets' tables: the write limiter, the key pause and daily counts.

They hang on the one `bot.db.metadata`; opening the database creates them.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.db.schema import metadata

write_limits = sa.Table(
    "outbox_write_limits",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    # GCRA "theoretical arrival time" of the next send, microseconds since the epoch.
    sa.Column("tat_us", sa.BigInteger, nullable=False),
    # No send before this (a 429's Retry-After), microseconds since the epoch; 0 = none.
    sa.Column("paused_until_us", sa.BigInteger, nullable=False),
)

# Productlane refused the API key itself (revoked, a v1 key, threads:write missing): no write
# can succeed until an operator fixes the key, so every replica pauses writes while a row exists
# for its limiter key, and one of them probes GET /me at `probe_at_us` to learn when it works
# again. A new table needs no migration step (see `modal_drafts`).
key_problems = sa.Table(
    "outbox_key_problems",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("code", sa.String(64), nullable=False),
    # What the operator must fix, in words; never any key material.
    sa.Column("message", sa.String(500), nullable=False),
    sa.Column("since_us", sa.BigInteger, nullable=False),
    sa.Column("probe_at_us", sa.BigInteger, nullable=False),
)

# Budgets counted per calendar day (UTC), shared by every replica: Productlane's 500 uploads a day.
daily_counts = sa.Table(
    "outbox_daily_counts",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
    sa.Column("used", sa.Integer, nullable=False),
)

"""The tables of channel settings, on the outbox's database and metadata (so every replica shares them).

* ``channel_settings`` — one row per channel that has settings; a channel without a row behaves as
  the bot does everywhere by default.
* ``channel_settings_version`` — one row, bumped in the same transaction as every change: each replica
  reads this one number every second or so and reloads the settings only when it moved. Cheaper than
  comparing rows, and it also sees deletions, which a max(updated_at) would not.
* ``channel_deleted_messages`` — messages of automatic channels deleted in Slack, by channel and ts:
  delivery does not send one whose message is here (whatever order Slack's events came in). Only
  ids, no text; kept a week, long after Slack has stopped retrying an event.

They hang on the one `bot.db.metadata`: opening the database creates them. New tables need no
migration step.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.db.schema import metadata
from bot.db.types import JSON, UtcMicros

__all__ = ["TABLES", "deleted_messages", "settings", "version"]

settings = sa.Table(
    "channel_settings",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("company_id", sa.String(255), nullable=True),
    sa.Column("pain_level", sa.String(16), nullable=True),
    # A JSON list of Productlane tag ids.
    sa.Column("tag_ids", JSON, nullable=False),
    sa.Column("capture", sa.String(16), nullable=True),
    sa.Column("confirm", sa.String(16), nullable=True),
    sa.Column("followups", sa.Boolean, nullable=False),
    sa.Column("replies", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcMicros, nullable=False),
    # Who changed them last: a Slack user id, or "cli" for `productlane-slack channels import`.
    sa.Column("updated_by", sa.String(64), nullable=True),
)

version = sa.Table(
    "channel_settings_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

deleted_messages = sa.Table(
    "channel_deleted_messages",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("ts", sa.String(32), primary_key=True),
    sa.Column("deleted_at", UtcMicros, nullable=False),
    sa.Index("channel_deleted_messages_at", "deleted_at"),
)

TABLES = (settings, version, deleted_messages)

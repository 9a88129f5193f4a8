"""The flood limits' tables, on the one `bot.db.metadata` (opening the database creates them; new
tables need no migration step).

* ``flood_marks`` — one row per message let through in the last hour (automatic capture's new
  threads and follow-ups), keyed by the message and stamped with when it was *posted* (its Slack
  ts), not when it was counted: counting them is the sliding hour the messages were written in, so
  messages read back after an outage count in their own hour, not all in the current one. Slack
  delivering an event again, or to two replicas, finds its mark and is not counted twice.
* ``flood_held`` — what went over a limit: kept here, words and all, not sent, until an admin
  files it (it then takes the normal path) or drops it, or `OUTBOX_RETENTION_DAYS` pass. One an
  admin filed and its feature could not take (a reply whose thread is no longer followed) stays,
  with why (``not_filed``), for the admins to see.
* ``flood_dropped`` — which messages an admin dropped: never sent, so also left out of a thread's
  body rendered again from Slack (the follow-ups' fallback), and not counted anew when Slack or the
  catch-up brings them again.
* ``flood_channels`` — a row per channel that was ever counted, locked while a message of that
  channel is counted, so two replicas counting at once do not both let the last one through, and
  only one of them tells the admins that the channel went over.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db.schema import add_column_if_missing, metadata, register_migration
from bot.db.types import ID, JSON, UtcMicros

__all__ = ["channels", "dropped", "held", "marks"]

marks = sa.Table(
    "flood_marks",
    metadata,
    # "automatic" or "followup"
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("ts", sa.String(32), primary_key=True),
    sa.Column("author_id", sa.String(64), nullable=False),
    # When the message was posted (its Slack ts): the hour it counts in.
    sa.Column("at", UtcMicros, nullable=False),
    # When it was counted: a mark stays an hour from then too, for messages of its hour read back
    # later. NULL in rows from before version 6.
    sa.Column("counted_at", UtcMicros, nullable=True),
    sa.Index("flood_marks_channel", "scope", "channel_id", "at"),
    sa.Index("flood_marks_author", "scope", "author_id", "at"),
    sa.Index("flood_marks_at", "at"),
)

held = sa.Table(
    "flood_held",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("author_id", sa.String(64), nullable=False),
    # Which limit it went over, in words for the admins ("20 new threads per author an hour").
    sa.Column("reason", sa.String(200), nullable=False),
    # What its feature needs to send it on later (the submission, or the reply as kept).
    sa.Column("payload", JSON, nullable=False),
    sa.Column("held_at", UtcMicros, nullable=False),
    # Why an admin's File could not send it (it stays held, shown on the Home); NULL otherwise.
    sa.Column("not_filed", sa.String(200), nullable=True),
    sa.UniqueConstraint("scope", "channel_id", "ts", name="flood_held_message"),
    sa.Index("flood_held_channel", "channel_id", "scope", "id"),
    sa.Index("flood_held_at", "held_at"),
)

channels = sa.Table(
    "flood_channels",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    # When the admins were last told that this channel went over.
    sa.Column("told_at", UtcMicros, nullable=True),
)

dropped = sa.Table(
    "flood_dropped",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("ts", sa.String(32), primary_key=True),
    sa.Column("dropped_at", UtcMicros, nullable=False),
    sa.Index("flood_dropped_at", "dropped_at"),
)


def _v6(conn: Connection) -> None:
    """Version 6: marks stamped with the message's own time keep when they were counted, and a held
    item an admin's File could not send says why."""
    add_column_if_missing(conn, "flood_marks", "counted_at", "BIGINT")
    add_column_if_missing(conn, "flood_held", "not_filed", "VARCHAR(200)")


register_migration(6, _v6)

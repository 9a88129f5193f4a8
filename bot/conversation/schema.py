"""The conversation's tables, on the one `bot.db.metadata` (opening the database creates them; new
tables need no migration step).

* ``conversation_threads`` — the Slack threads whose replies are followed: which Productlane thread
  they belong to, until when, and the sending state of each (its lease, the next write it may make,
  the batch in flight).
* ``conversation_followups`` — one row per reply in a followed thread, keyed by channel and ts, so
  Slack's retries and two replicas receiving the same event keep one; its status says whether it
  is waiting, in a batch being sent, sent (and as which comment), or deleted before it was sent.
* ``conversation_copied_files`` — what became of each file of a follow-up on its way to
  Productlane (the copy's URL, or why it stays a link), written by the sender holding the thread.
* ``conversation_route`` — no longer written: the route is decided per thread (the columns
  ``route``… of ``conversation_threads``); kept so a database that has it keeps a known table.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db.schema import add_column_if_missing, metadata, register_migration
from bot.db.types import ID, JSON, UtcMicros

__all__ = ["FOLLOWUP_STATUSES", "copied_files", "followups", "routes", "threads"]

FOLLOWUP_STATUSES = ("pending", "sending", "sent", "deleted", "dropped")

threads = sa.Table(
    "conversation_threads",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("thread_ts", sa.String(32), primary_key=True),
    sa.Column("thread_id", sa.String(255), nullable=False),
    # The submission's key (its outbox item's dedupe key): the fallback renders the body from it.
    sa.Column("item_key", sa.String(255), nullable=True),
    sa.Column("filed_at", UtcMicros, nullable=False),
    sa.Column("follow_until", UtcMicros, nullable=False),
    # Productlane said the thread no longer exists: nothing more is sent to it.
    sa.Column("gone", sa.Boolean, nullable=False),
    # No write to this thread before then (10 s after the last; later after passing trouble).
    sa.Column("next_write_at", UtcMicros, nullable=True),
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", UtcMicros, nullable=True),
    # The batch in flight: {"id", "route", "marker", "attempted"}; NULL between batches.
    sa.Column("batch", JSON, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    # How this thread's follow-ups reach Productlane: NULL (or "comments") as comments, "patch" by
    # re-rendering its body — decided for this thread alone, from what Productlane answered it.
    sa.Column("route", sa.String(16), nullable=True),
    sa.Column("route_reason", sa.String(500), nullable=True),
    sa.Column("route_since", UtcMicros, nullable=True),
    # When comments are tried again for it (the key may have been given comments:write meanwhile).
    sa.Column("route_retry_at", UtcMicros, nullable=True),
    # SHA-256 of the body as Productlane returned it after the bot's last write (the creation, or a
    # re-rendered body): a body that differs was changed in Productlane and is never overwritten.
    sa.Column("body_sha256", sa.String(64), nullable=True),
    sa.Index("conversation_threads_until", "follow_until"),
)

followups = sa.Table(
    "conversation_followups",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    # "<channel>:<ts>", or "<channel>:<ts>:edited:<edit ts>" for an edit after it was sent.
    sa.Column("key", sa.String(120), nullable=False, unique=True),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=False),
    sa.Column("ts", sa.String(32), nullable=False),
    # Slack's order: the message's ts (an edit's: when it was edited), in microseconds.
    sa.Column("sort_us", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=True),
    # The message as it is to be shown (text, blocks, files, author …); nothing else of the event.
    sa.Column("message", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # Bumped by each edit or deletion: a batch composed from an older revision is composed again.
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("received_at", UtcMicros, nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=True),
    # Set when the batch's write began: from then on it may be in Productlane.
    sa.Column("attempted_at", UtcMicros, nullable=True),
    sa.Column("sent_at", UtcMicros, nullable=True),
    sa.Column("route", sa.String(16), nullable=True),
    # The comment it went out in (the same for every reply of a batch).
    sa.Column("comment_id", sa.String(255), nullable=True),
    sa.Column("note", sa.String(200), nullable=True),
    # Set (with status "dropped") when Productlane refused the batch for its content, or its body
    # changed in Productlane and comments were refused: kept for the admins' Home, never sent.
    sa.Column("refusal", sa.String(200), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'sending', 'sent', 'deleted', 'dropped')", name="conversation_followups_status"
    ),
    sa.Index("conversation_followups_due", "status", "received_at"),
    sa.Index("conversation_followups_thread", "channel_id", "thread_ts", "status", "sort_us"),
    sa.Index("conversation_followups_comment", "comment_id"),
)

copied_files = sa.Table(
    "conversation_copied_files",
    metadata,
    sa.Column("file_id", sa.String(64), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("permalink", sa.String(2048), nullable=True),
    sa.Column("content_type", sa.String(255), nullable=True),
    sa.Column("copied_at", UtcMicros, nullable=False),
)

routes = sa.Table(
    "conversation_route",
    metadata,
    # The write budget's key (one Productlane key per workspace).
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("route", sa.String(16), nullable=False),  # "comments" | "patch"
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("since", UtcMicros, nullable=False),
    # When comments are tried again (the key may have been given comments:write meanwhile).
    sa.Column("retry_at", UtcMicros, nullable=True),
)

TABLES = (threads, followups, copied_files, routes)


def _v5(conn: Connection) -> None:
    """Version 5: the route per followed thread, the fingerprint of the body the bot last wrote, and
    follow-ups refused for their content kept for the admins."""
    for column, ddl in (
        ("route", "VARCHAR(16)"),
        ("route_reason", "VARCHAR(500)"),
        ("route_since", "BIGINT"),
        ("route_retry_at", "BIGINT"),
        ("body_sha256", "VARCHAR(64)"),
    ):
        add_column_if_missing(conn, "conversation_threads", column, ddl)
    add_column_if_missing(conn, "conversation_followups", "refusal", "VARCHAR(200)")


register_migration(5, _v5)

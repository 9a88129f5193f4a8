"""The outbox's tables: the items, open modals' drafts and the duplicate guard's memory.

They hang on the one `bot.db.metadata`; opening the database creates them. The migration steps of
the items' shape live here, beside the table they change (see `bot.db.schema`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db.schema import add_column_if_missing, metadata, register_migration
from bot.db.types import ID, JSON, UtcMicros

STATUSES = ("pending", "sending", "delivered", "failed")

# The keys of items sent in order within a queue (see bot.delivery.item.in_order_key).
IN_ORDER = "in-order:"
POSITION_CHARS = 17  # a Slack ts: 1733150100.000200

# Partial indexes for the claim: free items due in order; the items of in-order queues still waiting
# for their thread, by queue and position; items whose thread exists with their reply still to post.
CLAIM_INDEXES = (
    ("outbox_items_free", ("next_attempt_at", "id"), "status = 'pending' AND in_order_queue IS NULL"),
    (
        "outbox_items_waiting",
        ("in_order_queue", "dedupe_key"),
        "status IN ('pending', 'sending') AND result IS NULL AND in_order_queue IS NOT NULL",
    ),
    ("outbox_items_replies", ("next_attempt_at", "id"), "status = 'pending' AND result IS NOT NULL"),
)

items = sa.Table(
    "outbox_items",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UtcMicros, nullable=False),
    sa.Column("updated_at", UtcMicros, nullable=False),
    sa.Column("next_attempt_at", UtcMicros, nullable=False),
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", UtcMicros, nullable=True),
    sa.Column("first_sent_at", UtcMicros, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("result", JSON, nullable=True),
    sa.Column("delayed_notice_sent", sa.Boolean, nullable=False),
    # Set when "Edit and resend" sent an edited copy of this item (the id of that copy): the item
    # is then superseded and never sent. Kept beside the status rather than as a new status,
    # because SQLite cannot change the status CHECK constraint of an existing table in place.
    sa.Column("superseded_by", sa.BigInteger, nullable=True),
    # Who the item is for (the payload's submitter, a Slack user id), kept beside the payload so that
    # one person's items are read by an index (the App Home), never by scanning JSON. Set by `add`.
    sa.Column("submitter_id", sa.String(64), nullable=True),
    # The in-order queue the item waits its turn in (its key without the position; see
    # bot.delivery.outbox), None for the rest: the claim finds each queue's head by an index.
    sa.Column("in_order_queue", sa.String(255), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed')", name="outbox_items_status"),
    sa.Index("outbox_items_due", "status", "next_attempt_at"),
    sa.Index("outbox_items_lease", "status", "lease_until"),
    # Retention: settled items by age (see bot/delivery/retention.py).
    sa.Index("outbox_items_settled", "status", "updated_at"),
    # A person's items, newest first (the App Home: their last 20 of maybe 100,000).
    sa.Index("outbox_items_submitter", "submitter_id", "id"),
)

# What each open feedback modal was opened on (private_metadata holds only the id), so that a
# restart between opening a modal and pressing Send loses nothing. A new table needs no migration
# step: `create_all` adds missing tables on every start.
modal_drafts = sa.Table(
    "modal_drafts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("created_at", UtcMicros, nullable=False),
    sa.Index("modal_drafts_created", "created_at"),
)

# The duplicate guard's memory: which Slack message became which thread. One slim row per source
# message (no message text), looked up by its key before a modal opens, and kept after the outbox
# item itself is purged, so "already sent" stays true for as long as people would expect.
sent_messages = sa.Table(
    "sent_messages",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("ts", sa.String(32), primary_key=True),
    sa.Column("thread_id", sa.String(255), nullable=True),
    sa.Column("thread_url", sa.String(2048), nullable=True),
    sa.Column("submitter_id", sa.String(64), nullable=True),
    sa.Column("delivered_at", UtcMicros, nullable=False),
    sa.Index("sent_messages_delivered", "delivered_at"),
)

# What became of each Slack file of an item on its way to Productlane: the copy's URL, or the note
# why it stays a link to Slack. Written right after each upload by the item's lease owner, so a retry
# or a restart never uploads the same file twice for the same submission. A table beside the items
# rather than the item's `result`, whose NULL means "the thread is still to be created" to the claim
# and to the operator pause. New tables need no migration step (`create_all` adds them).
copied_files = sa.Table(
    "outbox_copied_files",
    metadata,
    sa.Column("item_id", sa.BigInteger, primary_key=True),
    sa.Column("file_id", sa.String(64), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("permalink", sa.String(2048), nullable=True),
    sa.Column("content_type", sa.String(255), nullable=True),
    sa.Column("copied_at", UtcMicros, nullable=False),
)


def _v2_sent_messages(conn: Connection) -> None:
    """Version 2: the duplicate guard reads `sent_messages` (an indexed key) instead of scanning
    delivered items' JSON; fill it from what was delivered before, and index settled items by age."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS outbox_items_settled ON outbox_items (status, updated_at)"
    )
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    query = (
        sa.select(items.c.payload, items.c.result, items.c.updated_at)
        .where(items.c.status == "delivered")
        .order_by(items.c.updated_at)
    )
    for payload, result, updated_at in conn.execute(query):
        source = (payload or {}).get("source") if isinstance(payload, dict) else None
        if not isinstance(source, dict) or not source.get("channel_id") or not source.get("ts"):
            continue
        result = result if isinstance(result, dict) else {}
        latest[(str(source["channel_id"]), str(source["ts"]))] = {
            "thread_id": result.get("thread_id"),
            "thread_url": result.get("url"),
            "submitter_id": payload.get("submitter_id"),
            "delivered_at": updated_at,
        }
    present = {tuple(row) for row in conn.execute(sa.select(sent_messages.c.channel_id, sent_messages.c.ts))}
    rows = [
        {"channel_id": channel, "ts": ts, **values}
        for (channel, ts), values in latest.items()
        if (channel, ts) not in present
    ]
    if rows:
        conn.execute(sa.insert(sent_messages), rows)


def _add_superseded_by(conn: Connection) -> None:
    add_column_if_missing(conn, "outbox_items", "superseded_by", "BIGINT")


def _v2(conn: Connection) -> None:
    """Version 2: "Edit and resend" supersedes the refused item; the duplicate guard's own table."""
    _add_superseded_by(conn)
    _v2_sent_messages(conn)


register_migration(2, _v2)


def _v3(conn: Connection) -> None:
    """Version 3: each item's submitter in a column of its own, indexed (the App Home reads one
    person's items), filled from the payloads already stored."""
    add_column_if_missing(conn, "outbox_items", "submitter_id", "VARCHAR(64)")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS outbox_items_submitter ON outbox_items (submitter_id, id)"
    )
    # One statement in the database's own JSON functions: a long-lived outbox may hold a million rows.
    from_payload = (
        "payload ->> 'submitter_id'"
        if conn.dialect.name == "postgresql"
        else "CASE WHEN json_valid(payload) THEN json_extract(payload, '$.submitter_id') END"
    )
    conn.exec_driver_sql(
        f"UPDATE outbox_items SET submitter_id = substr({from_payload}, 1, 64) "  # noqa: S608 - no input
        "WHERE submitter_id IS NULL"
    )


register_migration(3, _v3)


def _claim_index_ddl(name: str, columns: tuple[str, ...], where: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON outbox_items ({', '.join(columns)}) WHERE {where}"


# The claim's partial indexes (bot/delivery/claiming.py), made with the table. As DDL of their own,
# the same on both databases: an `sa.Index` with `postgresql_where` would load the PostgreSQL dialect
# into a bot on SQLite (tests/test_lean_start.py).
def _make_claim_indexes(_table: sa.Table, connection: Connection, **_kw: Any) -> None:
    for name, columns, where in CLAIM_INDEXES:
        connection.exec_driver_sql(_claim_index_ddl(name, columns, where))


sa.event.listen(items, "after_create", _make_claim_indexes)


def _v4(conn: Connection) -> None:
    """Version 4: the claim reads each kind of due item through an index of its own (a flood's backlog
    made every claim read and sort all of it): each in-order item's queue in a column, and the indexes."""
    add_column_if_missing(conn, "outbox_items", "in_order_queue", "VARCHAR(255)")
    queue = f"substr(dedupe_key, 1, length(dedupe_key) - {POSITION_CHARS})"
    conn.exec_driver_sql(
        f"UPDATE outbox_items SET in_order_queue = {queue}"  # noqa: S608 - constants, no input
        f" WHERE substr(dedupe_key, 1, {len(IN_ORDER)}) = '{IN_ORDER}' AND in_order_queue IS NULL"
    )
    for name, columns, where in CLAIM_INDEXES:
        conn.exec_driver_sql(_claim_index_ddl(name, columns, where))


register_migration(4, _v4)

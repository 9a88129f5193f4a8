"""The outbox's tables, how times are stored, and how a database is brought up to date.

Times are stored as whole microseconds since the Unix epoch (UTC) in BIGINT columns, so
comparisons and ordering are exact and identical on SQLite and PostgreSQL; the Python side only
ever sees timezone-aware UTC datetimes.

Schema changes: `create_all` builds a new database at the latest shape. An existing database
records its version in ``outbox_schema_version``; to change the shape later, add the column to
the table below, bump `SCHEMA_VERSION`, and register a step in `MIGRATIONS` that brings the
previous version to the new one (use `add_column_if_missing`, so a step that ran halfway is
safe to run again). `upgrade` runs on every start, under a lock shared by all replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
"""The version this code writes; an existing database is migrated up to it on start."""

MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
"""Step ``n`` brings a database from version ``n - 1`` to ``n``; each step must be idempotent.

Example for a later version 3::

    MIGRATIONS[3] = lambda conn: add_column_if_missing(conn, "outbox_items", "note", "TEXT")
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# An arbitrary constant: the PostgreSQL advisory lock that serialises schema set-up of replicas.
_PG_SCHEMA_LOCK = 0x6F7574626F78  # "outbox"


def to_micros(value: datetime) -> int:
    """Whole microseconds since the epoch; refuses naive datetimes (whose zone is a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware datetime (UTC)")
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The timezone-aware UTC datetime for microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


class UtcMicros(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as BIGINT microseconds since the epoch (UTC)."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid


class _Json(sa.TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL. The PostgreSQL dialect is imported only when a
    PostgreSQL database is used, so a SQLite bot never loads it (start-up time, memory)."""

    impl = sa.JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(sa.JSON(none_as_null=True))


_JSON = _Json()

STATUSES = ("pending", "sending", "delivered", "failed")

metadata = sa.MetaData()

items = sa.Table(
    "outbox_items",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", _JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UtcMicros, nullable=False),
    sa.Column("updated_at", UtcMicros, nullable=False),
    sa.Column("next_attempt_at", UtcMicros, nullable=False),
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", UtcMicros, nullable=True),
    sa.Column("first_sent_at", UtcMicros, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("result", _JSON, nullable=True),
    sa.Column("delayed_notice_sent", sa.Boolean, nullable=False),
    # Set when "Edit and resend" sent an edited copy of this item (the id of that copy): the item
    # is then superseded and never sent. Kept beside the status rather than as a new status,
    # because SQLite cannot change the status CHECK constraint of an existing table in place.
    sa.Column("superseded_by", sa.BigInteger, nullable=True),
    # Who the item is for (the payload's submitter, a Slack user id), kept beside the payload so that
    # one person's items are read by an index (the App Home), never by scanning JSON. Set by `add`.
    sa.Column("submitter_id", sa.String(64), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed')", name="outbox_items_status"),
    sa.Index("outbox_items_due", "status", "next_attempt_at"),
    sa.Index("outbox_items_lease", "status", "lease_until"),
    # Retention: settled items by age (see bot/delivery/retention.py).
    sa.Index("outbox_items_settled", "status", "updated_at"),
    # A person's items, newest first (the App Home: their last 20 of maybe 100,000).
    sa.Index("outbox_items_submitter", "submitter_id", "id"),
)

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

# What each open feedback modal was opened on (private_metadata holds only the id), so that a
# restart between opening a modal and pressing Send loses nothing. A new table needs no migration
# step: `create_all` adds missing tables on every start.
modal_drafts = sa.Table(
    "modal_drafts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("payload", _JSON, nullable=False),
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

# --- capture (issue #10) -----------------------------------------------------------------------
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

# Budgets counted per calendar day (UTC), shared by every replica: Productlane's 500 uploads a day.
daily_counts = sa.Table(
    "outbox_daily_counts",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
    sa.Column("used", sa.Integer, nullable=False),
)

schema_version = sa.Table(
    "outbox_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
)


def add_column_if_missing(conn: Connection, table: str, column: str, ddl_type: str) -> None:
    """``ALTER TABLE … ADD COLUMN`` unless the column is already there (for migration steps)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    if column in present:
        return
    prep = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(column)} {ddl_type}")


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


MIGRATIONS[2] = _v2


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


MIGRATIONS[3] = _v3


def upgrade(conn: Connection) -> int:
    """Create missing tables and run pending migration steps; returns the database's version.

    Runs inside the caller's write transaction (BEGIN IMMEDIATE on SQLite, which already
    excludes other writers); on PostgreSQL an advisory lock serialises replicas starting at once.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
    metadata.create_all(conn, checkfirst=True)
    version = conn.execute(
        sa.select(schema_version.c.version).where(schema_version.c.id == 1)
    ).scalar_one_or_none()
    if version is None:
        # A new database: create_all has just built the latest shape.
        conn.execute(sa.insert(schema_version).values(id=1, version=SCHEMA_VERSION))
        return SCHEMA_VERSION
    version = int(version)
    if version > SCHEMA_VERSION:
        log.warning(
            "outbox schema is version %d, newer than this code's %d; running on it",
            version,
            SCHEMA_VERSION,
        )
        return version
    for step in range(version + 1, SCHEMA_VERSION + 1):
        log.info("outbox schema: migrating to version %d", step)
        MIGRATIONS[step](conn)
    if version != SCHEMA_VERSION:
        conn.execute(sa.update(schema_version).where(schema_version.c.id == 1).values(version=SCHEMA_VERSION))
    return SCHEMA_VERSION

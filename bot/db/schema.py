"""The one schema: every feature's tables hang on `metadata`, and a database is brought up to date.

Schema changes: `create_all` builds a new database at the latest shape, every table registered on
`metadata` at once. An existing database records its version in ``outbox_schema_version`` (the
name it has had since the outbox was the only store); to change the shape of an existing table,
add the column to the table, bump `SCHEMA_VERSION`, and register a step in `MIGRATIONS` beside the
table (use `add_column_if_missing`, so a step that ran halfway is safe to run again). A new table
needs no step: `create_all` adds missing tables on every start. `upgrade` runs when a `Database`
opens, under a lock shared by all replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "add_column_if_missing",
    "metadata",
    "register_migration",
    "upgrade",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6
"""The version this code writes; an existing database is migrated up to it on start."""

MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
"""Step ``n`` brings a database from version ``n - 1`` to ``n``; each step must be idempotent.
Registered by the module that defines the table it changes (`register_migration`)."""


def register_migration(version: int, step: Callable[[Connection], None]) -> None:
    """Register step ``version``. Two features taking the same number would leave one of the
    steps unrun on every database, so that is refused as the modules are imported."""
    taken = MIGRATIONS.get(version)
    if taken is not None and taken is not step:
        raise RuntimeError(
            f"schema version {version} has two migration steps: {taken.__module__}, {step.__module__}"
        )
    MIGRATIONS[version] = step


# An arbitrary constant: the PostgreSQL advisory lock that serialises schema set-up of replicas.
_PG_SCHEMA_LOCK = 0x6F7574626F78  # "outbox"

metadata = sa.MetaData()

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


def upgrade(conn: Connection) -> int:
    """Create missing tables and run pending migration steps; returns the database's version.

    Runs inside the caller's write transaction (BEGIN IMMEDIATE on SQLite, which already
    excludes other writers); on PostgreSQL an advisory lock serialises replicas starting at once.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
    # One look at what exists, not one per table: every test and every start opens a database.
    existing = set(sa.inspect(conn).get_table_names())
    missing = [table for table in metadata.tables.values() if table.name not in existing]
    if missing:  # create_all orders them by their foreign keys; with none, it would still sort them all
        metadata.create_all(conn, tables=missing, checkfirst=False)
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
            "database schema is version %d, newer than this code's %d; running on it",
            version,
            SCHEMA_VERSION,
        )
        return version
    for step in range(version + 1, SCHEMA_VERSION + 1):
        if step not in MIGRATIONS:
            # The step lives beside its table; a database opened without that module imported
            # would be marked up to date without it.
            raise RuntimeError(f"no migration step for schema version {step}: open it with bot.tables")
        log.info("database schema: migrating to version %d", step)
        MIGRATIONS[step](conn)
    if version != SCHEMA_VERSION:
        conn.execute(sa.update(schema_version).where(schema_version.c.id == 1).values(version=SCHEMA_VERSION))
    return SCHEMA_VERSION

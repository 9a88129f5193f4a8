"""The database every store works on: the engine, transactions, the clock and the dialect's inserts.

SQLite (one machine, zero set-up; WAL, so a write is cheap) or PostgreSQL (several replicas).
Create one `Database` per process (after any fork); it is safe to share between threads.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import PoolProxiedConnection

from bot.db.schema import upgrade
from bot.db.types import encode_json

__all__ = ["PG_CONNECT_TIMEOUT_SECONDS", "Database", "DatabaseFileGoneError"]

PG_CONNECT_TIMEOUT_SECONDS = 5
_READ_ONLY = "bot_read_only"  # execution option: a plain (deferred) BEGIN on SQLite


class DatabaseFileGoneError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "the outbox database file was deleted or replaced while the bot runs; what it accepts "
            "now is lost at the next start: put the file back, or restart the bot"
        )


def _file_identity(path: str) -> tuple[str, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return path, stat.st_dev, stat.st_ino


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _enable_wal(cursor: Any, timeout_s: float) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another process holds the file.

    Switching a new file to WAL needs an exclusive lock and SQLite may answer "database is
    locked" at once, without waiting for busy_timeout, when replicas start together.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _sqlite_engine(database_url: str, synchronous: str, busy_timeout_ms: int) -> Engine:
    # hide_parameters: a failed statement's error would otherwise carry its bound values (a
    # customer's message and email) into whatever logs it.
    engine = sa.create_engine(database_url, json_serializer=encode_json, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver must not start transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            _enable_wal(cursor, busy_timeout_ms / 1000)
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            # SQLite checkpoints the log in whichever commit makes it long enough: an ack or a
            # claim would pay for the whole backlog's pages (the claim's p99 at 100,000 queued was
            # 2.2x that at 100; 1.0x without). `Database.checkpoint` does it off those paths.
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so a read-then-write transaction can never
        # fail half-way on a lock upgrade; busy_timeout makes the next writer wait its turn.
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _restrict_sqlite_file(path: str) -> None:
    """Create the SQLite file readable by its owner only: it holds what customers wrote."""
    if os.path.exists(path):
        return
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another replica made it first
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class Database:
    """One database: SQLite or PostgreSQL, its engine, its transactions and the time it goes by."""

    def __init__(
        self,
        database_url: str,
        *,
        clock: Callable[[], datetime] = _utc_now,
        sqlite_synchronous: str = "NORMAL",
        sqlite_busy_timeout_ms: int = 10_000,
    ) -> None:
        """Open (and create or migrate) the database at ``database_url``: every table registered
        on `bot.db.metadata` is created here, once.

        ``sqlite:///path.db`` or ``postgresql+psycopg://user:pass@host:port/db``.
        ``sqlite_synchronous="FULL"`` also survives power loss, at the cost of an fsync per write;
        NORMAL (the default) survives any crash of the process.
        """
        url = sa.make_url(database_url)
        self._clock = clock
        # SQLite has one writer at a time. Threads of this process queue here for it, and each
        # wakes the moment the previous one commits; without this they would meet in SQLite's busy
        # handler, which polls with sleeps of up to 100 ms (what made acks slow in a burst). Other
        # processes on the same file still wait in the busy handler. PostgreSQL needs no queue.
        self.writers: AbstractContextManager[Any] = nullcontext()
        self._raw_connection: PoolProxiedConnection | None = None
        self.dialect = url.get_backend_name()
        file_path = (
            url.database if self.dialect == "sqlite" and url.database not in (None, "", ":memory:") else None
        )
        if self.dialect == "sqlite":
            if sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
                raise ValueError(f"unknown SQLite synchronous mode {sqlite_synchronous!r}")
            if file_path is not None:
                _restrict_sqlite_file(file_path)
            self._engine = _sqlite_engine(database_url, sqlite_synchronous.upper(), sqlite_busy_timeout_ms)
            # Reentrant: a caller already holding it (same thread) is not stopped by it.
            self.writers = threading.RLock()
        elif self.dialect == "postgresql":
            self._engine = sa.create_engine(
                database_url,
                pool_pre_ping=True,
                json_serializer=encode_json,
                hide_parameters=True,
                # An unreachable server fails a connection (a readiness probe, a send) in seconds,
                # not after the system's TCP timeout of minutes.
                connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS},
            )
        else:
            raise ValueError(f"unsupported outbox database {url.drivername!r}: use sqlite or postgresql")
        with self.writing() as conn:
            self.schema_version = upgrade(conn)
        # An open SQLite connection goes on working on a file deleted under it, and everything
        # written from then on would be gone at the next start: the readiness probe looks.
        self._file_identity: tuple[str, int, int] | None = None
        if file_path is not None:
            self._file_identity = _file_identity(os.path.abspath(file_path))

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        with self.writers:
            if self._raw_connection is not None:
                self._raw_connection.close()
                self._raw_connection = None
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database as far as no reader needs it (a passive
        checkpoint: it takes no lock writers wait for). Called about once a second by the running
        bot; nothing to do on PostgreSQL."""
        if self.dialect != "sqlite":
            return
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            raw.close()

    def file_gone(self) -> bool:
        """True when the SQLite file this database opened is no longer at its path (one stat)."""
        identity = self._file_identity
        return identity is not None and _file_identity(identity[0]) != identity

    def check_file(self) -> None:
        """Raises `DatabaseFileGoneError` when the SQLite file was deleted or replaced."""
        if self.file_gone():
            raise DatabaseFileGoneError

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it takes the write lock up front, in this process's queue)."""
        with self.writers, self._engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite it takes no write lock, so it never delays a write."""
        with self._engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            with conn.begin():
                yield conn

    def sqlite_driver(self) -> sqlite3.Connection:
        """A driver connection kept out of the pool for one hot write (call it holding `writers`):
        it pays no checkout or reset. SQLite only."""
        if self._raw_connection is None:
            self._raw_connection = self._engine.raw_connection()
        driver = self._raw_connection.driver_connection
        if not isinstance(driver, sqlite3.Connection):
            raise TypeError("sqlite_driver is for SQLite databases")
        return driver

    def now(self, now: datetime | None = None) -> datetime:
        """``now`` (checked to be timezone-aware, in UTC), or the database's clock when None: the
        time every store on this database goes by."""
        value = self._clock() if now is None else now
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware datetime (UTC)")
        return value.astimezone(UTC)

    def insert_for(self, table: sa.Table) -> Any:
        """An INSERT for ``table`` in this database's dialect (it has ``on_conflict_do_…``)."""
        # Each dialect's module is imported only for the database in use.
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

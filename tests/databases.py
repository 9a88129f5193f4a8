"""Databases for the tests: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.

TEST_DATABASE_URL must name a throw-away database (`eval "$(bash .ci/postgres.sh)"` makes one):
each PostgreSQL test drops and recreates the bot's tables in it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.util import LRUCache

from bot.db import metadata
from bot.delivery.outbox import Outbox
from bot.tables import open_database
from tests.backends import NO_PG


class SharedCompiledStatements(LRUCache):  # type: ignore[type-arg]
    """One cache of compiled SQL for every engine of a test process.

    SQLAlchemy keys each engine's cache by its dialect object: the bot opens one database for
    good, but the tests open a new one for nearly every test, each compiling the same statements
    anew (~1 ms each: a third of a short database test's CPU). Here the key holds what the SQL
    depends on instead, the dialect's kind and its JSON serializer, which are the same for every
    database the bot opens; SQLite and PostgreSQL never share an entry."""

    @staticmethod
    def _shared(key: tuple[Any, ...]) -> tuple[Any, ...]:
        dialect = key[0]
        return (type(dialect), getattr(dialect, "_json_serializer", None), *key[1:])

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return super().get(self._shared(key), default)

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        super().__setitem__(self._shared(key), value)


SHARED_COMPILED_STATEMENTS = SharedCompiledStatements(2000)


@event.listens_for(Engine, "engine_connect")
def _share_compiled_statements(connection: Connection) -> None:
    connection.execution_options(compiled_cache=SHARED_COMPILED_STATEMENTS)


@functools.cache
def _worker_url(url: str, worker: str) -> str:
    """The tests run in parallel (pytest-xdist): each worker gets a schema of its own in the one
    throw-away database, so one worker's dropped tables are never another's."""
    if not url or not worker:
        return url
    schema = f"tests_{worker}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()
    # libpq's `options`: every connection (the bot's own processes too) works in that schema.
    return (
        sa.make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def reset_postgres(url: str) -> None:
    """Every table of the bot dropped, so the next database opened creates them anew."""
    engine = sa.create_engine(url)
    try:
        metadata.drop_all(engine)
    finally:
        engine.dispose()


def fresh_postgres() -> str:
    """This worker's schema of TEST_DATABASE_URL with no table in it; skips the test without it.

    Looked up when a test asks, not at import: the workers' fork server imports this module before
    there is a worker (tests/worker_forkserver.py)."""
    url = _worker_url(os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("PYTEST_XDIST_WORKER", ""))
    if not url:
        pytest.skip(NO_PG)
    reset_postgres(url)
    return url


def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh database of `backend` ("sqlite" or "postgresql"); skips without PostgreSQL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'outbox.db'}"
    return fresh_postgres()


class ClosingOutbox(Outbox):
    """An outbox on a database of its own, closed with it: what most tests open."""

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> ClosingOutbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_SQLITE_TEMPLATES: dict[int, Path] = {}


def sqlite_template() -> Path:
    """A database with every table, made once per process: creating the tables costs ~15 ms of
    CPU, copying them a fraction of that, and some three hundred tests open a new one. conftest
    makes it as the process's session starts, before any test patches the schema; not at import,
    as the workers' fork server imports this module (tests/worker_forkserver.py). Kept per process:
    a fork inherits the dictionary, but not the directory to remove at its exit."""
    made = _SQLITE_TEMPLATES.get(os.getpid())
    if made is None:
        directory = tempfile.mkdtemp(prefix="productlane-slack-template-")
        atexit.register(_remove_if_mine, os.getpid(), directory)
        made = Path(directory) / "outbox.db"
        open_database(f"sqlite:///{made}").close()
        _SQLITE_TEMPLATES[os.getpid()] = made
    return made


def _remove_if_mine(owner: int, directory: str) -> None:
    if os.getpid() == owner:  # a forked child runs its parent's exit functions too (the workers do)
        shutil.rmtree(directory, ignore_errors=True)


def outbox_at(database_url: str, **options: Any) -> ClosingOutbox:
    """The outbox on the bot's database at ``database_url`` (every table created). A new SQLite
    file starts as a copy of a database the bot made (what opening it would have made)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template(), path)
        path.chmod(0o600)  # as the bot creates it
    return ClosingOutbox(open_database(database_url, **options))

"""Databases for the tests: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.

TEST_DATABASE_URL must name a throw-away database (`eval "$(bash .ci/postgres.sh)"` makes one):
each PostgreSQL test drops and recreates the bot's tables in it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

import bot.catalog.schema  # registers the catalog's tables on the shared metadata
import bot.channels.schema  # registers the channel settings' tables on the shared metadata
import bot.conversation.schema  # registers the conversation's tables (follow-ups)
import bot.home.schema  # registers the Home's table on the shared metadata
import bot.updates.schema  # noqa: F401 - registers the updates' tables on the shared metadata
from bot.delivery import schema as outbox_schema

NO_PG = 'TEST_DATABASE_URL is not set (eval "$(bash .ci/postgres.sh)" starts a server)'


def _worker_url(url: str) -> str:
    """The tests run in parallel (pytest-xdist): each worker gets a schema of its own in the one
    throw-away database, so one worker's dropped tables are never another's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
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


PG_URL = _worker_url(os.environ.get("TEST_DATABASE_URL", ""))


def reset_postgres(url: str) -> None:
    """Every table of the bot dropped, so the next Outbox creates them anew."""
    engine = sa.create_engine(url)
    try:
        outbox_schema.metadata.drop_all(engine)
    finally:
        engine.dispose()


def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh database of `backend` ("sqlite" or "postgresql"); skips without PostgreSQL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'outbox.db'}"
    if not PG_URL:
        pytest.skip(NO_PG)
    reset_postgres(PG_URL)
    return PG_URL

"""Databases for the updates tests: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.

TEST_DATABASE_URL must name a throw-away database (`eval "$(bash .ci/postgres.sh)"` makes one):
each PostgreSQL test drops and recreates the bot's tables in it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bot.updates.schema  # noqa: F401 - registers the updates' tables on the shared metadata
from tests.backends import BACKENDS
from tests.databases import database_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path)


class Clock:
    """A settable UTC clock for stores: ``clock()`` now, ``clock.advance(seconds)``."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))

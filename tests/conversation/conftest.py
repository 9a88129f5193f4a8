"""Databases for the conversation's tests: SQLite always, PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.conversation.store import FollowUpStore
from bot.delivery.outbox import Outbox
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at
from tests.updates.conftest import Clock


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))


@pytest.fixture
def outbox(url: str, clock: Clock) -> Iterator[Outbox]:
    box = outbox_at(url, clock=clock)
    yield box
    box.close()


@pytest.fixture
def store(outbox: Outbox) -> FollowUpStore:
    return FollowUpStore(outbox.database)

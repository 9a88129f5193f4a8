"""Delivery health as admins (App Home) and monitoring (/metrics) see it: read from the shared database
in one statement, the same on every replica, and at most once per few seconds per reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.budgets.key_pause import KeyPause
from bot.delivery import Outbox, Status
from bot.delivery.health import DeliveryHealthReader, read_health
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = "productlane:T0ACME0001"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path)


@pytest.fixture
def outbox(url: str) -> Iterator[Outbox]:
    box = outbox_at(url, clock=lambda: T0)
    yield box
    box.close()


def test_an_empty_outbox_is_all_zeros_and_nothing_waits(outbox: Outbox) -> None:
    health = read_health(outbox, KEY, now=at(0))
    assert dict(health.counts) == dict.fromkeys(Status, 0)
    assert (health.waiting, health.failed, health.paused) == (0, 0, None)
    assert health.oldest_waiting_since is None
    assert health.oldest_waiting_seconds() == 0.0


def test_items_by_state_and_the_oldest_still_waiting(outbox: Outbox) -> None:
    delivered = outbox.add("d", "create_thread", {}, now=at(0)).id
    sending = outbox.add("s", "create_thread", {}, now=at(5)).id
    outbox.add("w1", "create_thread", {}, now=at(10))
    outbox.add("w2", "create_thread", {}, now=at(20))
    refused = outbox.add("f", "create_thread", {}, now=at(30)).id
    outbox.add("edited", "create_thread", {}, now=at(31), supersedes=refused)
    assert [item.id for item in outbox.claim("w", 2, 60, now=at(40))] == [delivered, sending]
    outbox.mark_delivered(delivered, "w", now=at(41))

    health = read_health(outbox, KEY, now=at(65))
    assert health.counts[Status.DELIVERED] == 1
    assert health.counts[Status.SENDING] == 1
    assert health.counts[Status.SUPERSEDED] == 1
    assert health.counts[Status.PENDING] == 3  # w1, w2 and the edited copy
    assert (health.waiting, health.failed) == (4, 0)
    # The item being sent was accepted first (at 5 s): it still waits, and it is the oldest.
    assert health.oldest_waiting_since == at(5)
    assert health.oldest_waiting_seconds() == 60.0


def test_a_refused_key_shows_as_paused_with_its_reason(outbox: Outbox) -> None:
    KeyPause(outbox.database).record_key_problem(
        KEY, "unauthenticated", "the key was revoked", probe_at=at(30)
    )
    KeyPause(outbox.database).record_key_problem("productlane:OTHER", "scope_required", "x", probe_at=at(30))
    paused = read_health(outbox, KEY).paused
    assert paused is not None
    assert (paused.code, paused.reason, paused.since) == ("unauthenticated", "the key was revoked", T0)


def test_replicas_agree_and_a_reader_asks_the_database_once_per_few_seconds(url: str) -> None:
    now = [0.0]
    with outbox_at(url) as one, outbox_at(url) as other:
        one.add("a", "create_thread", {})
        reader = DeliveryHealthReader(one, KEY, max_age=5.0, clock=lambda: now[0])
        assert reader.read().waiting == read_health(other, KEY).waiting == 1
        other.add("b", "create_thread", {})
        now[0] = 4.9
        assert reader.read().waiting == 1, "answered from the last read"
        now[0] = 5.0
        assert reader.read().waiting == read_health(other, KEY).waiting == 2

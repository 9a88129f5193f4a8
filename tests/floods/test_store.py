"""The flood limits' store on SQLite and PostgreSQL: a sliding hour counted per author and per
channel, a message counted once however often Slack delivers it, what goes over held (the first of a
channel says so), held items handed back, forgotten when deleted in Slack, and purged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.outbox import Outbox
from bot.floods import FloodLimits, FloodStore, Limit, Scope, Verdict
from tests.databases import database_url, outbox_at

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMITS = FloodLimits(
    automatic=Limit(per_author=2, per_channel=3), followups=Limit(per_author=1, per_channel=0)
)


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    box = outbox_at(database_url(request.param, tmp_path))
    yield box
    box.close()


@pytest.fixture
def store(outbox: Outbox) -> FloodStore:
    return FloodStore(outbox.database, LIMITS)


def admit(
    store: FloodStore,
    ts: str,
    author: str = "U1",
    channel: str = "C1",
    *,
    at: datetime = NOW,
    scope: Scope = Scope.AUTOMATIC,
) -> Verdict:
    return store.admit(scope, channel, ts, author, {"words": ts}, now=at)


def test_over_the_author_limit_is_held_and_the_first_held_says_so(store: FloodStore) -> None:
    assert not admit(store, "1.1").held
    assert not admit(store, "1.2").held
    third = admit(store, "1.3")
    assert third.held
    assert third.first
    assert third.reason == "more than 2 new threads by one author in an hour"
    fourth = admit(store, "1.4")
    assert fourth.held
    assert not fourth.first, "one message to the admins per channel, not one per held item"
    # Another author in the same channel: the channel's limit (3) is reached after one more.
    assert not admit(store, "1.5", author="U2").held
    assert admit(store, "1.6", author="U2").reason == "more than 3 new threads in one channel in an hour"
    assert store.held_count() == 3


def test_the_same_message_again_gets_the_same_answer_and_is_counted_once(store: FloodStore) -> None:
    assert not admit(store, "1.1").held
    assert not admit(store, "1.1").held  # Slack's retry
    assert not admit(store, "1.2").held
    held = admit(store, "1.3")
    again = admit(store, "1.3")
    assert held.held
    assert again.held
    assert not again.first
    assert store.held_count() == 1


def test_the_hour_slides(store: FloodStore) -> None:
    assert not admit(store, "1.1", at=NOW).held
    assert not admit(store, "1.2", at=NOW + timedelta(minutes=30)).held
    assert admit(store, "1.3", at=NOW + timedelta(minutes=59)).held
    # The first mark has left the window: one more may go.
    assert not admit(store, "1.4", at=NOW + timedelta(minutes=60, seconds=1)).held
    assert admit(store, "1.5", at=NOW + timedelta(minutes=61)).held


def test_scopes_and_channels_are_counted_apart(store: FloodStore) -> None:
    assert not admit(store, "1.1", scope=Scope.FOLLOWUP).held
    assert admit(store, "1.2", scope=Scope.FOLLOWUP).held
    assert not admit(store, "1.3").held  # new threads count on their own
    # The author limit is the person's anywhere; the channel limit is per channel.
    assert not admit(store, "2.1", channel="C2").held
    assert admit(store, "2.2", channel="C2").held


def test_held_items_are_listed_by_channel_handed_back_and_removed(store: FloodStore) -> None:
    for n in range(5):
        admit(store, f"1.{n}", author="U1" if n % 2 else "U2")
    admit(store, "2.0", scope=Scope.FOLLOWUP, channel="C2")
    admit(store, "2.1", scope=Scope.FOLLOWUP, channel="C2")
    groups = store.held_groups()
    assert [(g.channel_id, g.scope, g.count) for g in groups] == [
        ("C1", Scope.AUTOMATIC, 2),
        ("C2", Scope.FOLLOWUP, 1),
    ]
    assert set(groups[0].authors) == {"U1", "U2"}
    items = store.held_in(Scope.AUTOMATIC, "C1")
    assert [item.ts for item in items] == ["1.3", "1.4"]
    assert items[0].payload == {"words": "1.3"}
    assert store.remove([items[0].id]) == 1
    assert store.held_count() == 2


def test_a_held_message_deleted_in_slack_is_forgotten(store: FloodStore) -> None:
    admit(store, "1.1")
    admit(store, "1.2")
    admit(store, "1.3")
    assert store.forget(Scope.AUTOMATIC, "C1", "1.3")
    assert not store.forget(Scope.AUTOMATIC, "C1", "1.3")
    assert store.held_count() == 0
    # With nothing held there any more, the next one over is a new episode: the admins hear again.
    assert admit(store, "1.4").first


def test_held_items_are_purged_after_the_retention_and_marks_after_the_hour(
    store: FloodStore, outbox: Outbox
) -> None:
    admit(store, "1.1")
    admit(store, "1.2")
    admit(store, "1.3")
    assert store.purge(NOW - timedelta(days=1), now=NOW + timedelta(minutes=5)) == 0
    assert store.held_count() == 1
    assert store.purge(NOW + timedelta(seconds=1), now=NOW + timedelta(hours=2)) == 1
    assert store.held_count() == 0
    # The marks went with the hour: the author may send again.
    assert not admit(store, "1.4", at=NOW + timedelta(hours=2)).held

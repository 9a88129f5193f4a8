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
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMITS = FloodLimits(
    automatic=Limit(per_author=2, per_channel=3), followups=Limit(per_author=1, per_channel=0)
)


@pytest.fixture(params=BACKENDS)
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


def stamp(at: datetime) -> str:
    """The Slack ts of a message posted at ``at``."""
    return f"{at.timestamp():.6f}"


def test_the_hour_slides(store: FloodStore) -> None:
    # The hour is the one the messages were posted in (their ts), whenever they are counted.
    assert not admit(store, stamp(NOW)).held
    assert not admit(store, stamp(NOW + timedelta(minutes=30))).held
    assert admit(store, stamp(NOW + timedelta(minutes=59))).held
    # The first mark has left the window: one more may go.
    assert not admit(store, stamp(NOW + timedelta(minutes=60, seconds=1))).held
    assert admit(store, stamp(NOW + timedelta(minutes=61))).held


def test_messages_read_back_after_an_outage_count_in_the_hour_they_were_posted(outbox: Outbox) -> None:
    """An 80-minute outage in a busy automatic channel: 6 messages in its first five minutes, 6 in
    its last five, all read back in seconds when it ends. No hour of posting held more than 10, so
    none is held and the admins hear nothing; counted at the time of reading, 2 would have been."""
    store = FloodStore(outbox.database, FloodLimits(Limit(0, 10), Limit(0, 0)))
    start, back = NOW, NOW + timedelta(minutes=80)
    posted = [start + timedelta(seconds=50 * n) for n in range(6)]
    posted += [back - timedelta(minutes=5) + timedelta(seconds=50 * n) for n in range(6)]
    verdicts = [
        store.admit(Scope.AUTOMATIC, "C1", stamp(at), f"U{n % 7}", {}, now=back + timedelta(seconds=n / 10))
        for n, at in enumerate(posted)
    ]
    assert [v for v in verdicts if v.held] == []
    # Read back again (another replica, or a second catch-up): counted once, still nothing held.
    again = [store.admit(Scope.AUTOMATIC, "C1", stamp(at), "U1", {}, now=back) for at in posted]
    assert not any(v.held for v in again)
    # The hour before now holds the last 6 posted: 4 more may go, the 5th goes over.
    after = [stamp(back + timedelta(seconds=n + 1)) for n in range(5)]
    last = [store.admit(Scope.AUTOMATIC, "C1", ts, "U1", {}, now=back).held for ts in after]
    assert last == [False] * 4 + [True]


def test_held_and_dropped_messages_are_withheld_from_a_rendered_thread(store: FloodStore) -> None:
    assert not admit(store, "1.1", scope=Scope.FOLLOWUP).held
    assert admit(store, "1.2", scope=Scope.FOLLOWUP).held
    assert admit(store, "1.3", scope=Scope.FOLLOWUP).held
    (_, dropped_item) = store.held_in(Scope.FOLLOWUP, "C1")
    assert store.drop([dropped_item.id], now=NOW) == 1
    assert store.withheld(Scope.FOLLOWUP, "C1", ["1.1", "1.2", "1.3", "1.4"]) == {"1.2", "1.3"}
    assert store.withheld(Scope.AUTOMATIC, "C1", ["1.2", "1.3"]) == frozenset()
    assert store.withheld(Scope.FOLLOWUP, "C2", ["1.2", "1.3"]) == frozenset()
    # Slack (or the catch-up) bringing the dropped one again does not send it.
    verdict = admit(store, "1.3", scope=Scope.FOLLOWUP)
    assert verdict.held
    assert not verdict.first
    assert store.held_count() == 1
    # What was dropped is forgotten with the retention.
    store.purge(NOW + timedelta(days=1), now=NOW + timedelta(days=1))
    assert store.withheld(Scope.FOLLOWUP, "C1", ["1.3"]) == frozenset()


def test_an_item_file_could_not_send_stays_held_and_says_why(store: FloodStore) -> None:
    admit(store, "1.1")
    admit(store, "1.2")
    admit(store, "1.3")
    admit(store, "1.4")
    first, _ = store.held_in(Scope.AUTOMATIC, "C1")
    store.not_filed(first.id, "its thread is no longer followed")
    (group,) = store.held_groups()
    assert (group.count, group.not_filed) == (2, 1)
    assert group.not_filed_reason == "its thread is no longer followed"


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
    admit(store, stamp(NOW))
    admit(store, stamp(NOW))
    admit(store, stamp(NOW + timedelta(seconds=1)))
    admit(store, stamp(NOW + timedelta(seconds=2)))
    assert store.purge(NOW - timedelta(days=1), now=NOW + timedelta(minutes=5)) == 0
    assert store.held_count() == 1
    assert store.purge(NOW + timedelta(seconds=1), now=NOW + timedelta(hours=2)) == 1
    assert store.held_count() == 0
    # The marks went with the hour: the author may send again.
    later = NOW + timedelta(hours=2)
    assert not admit(store, stamp(later), at=later).held


def test_a_mark_of_an_old_hour_stays_an_hour_after_it_was_counted(store: FloodStore) -> None:
    """Messages of one hour read back after an outage keep counting together, though their hour
    is past: the marks of the first ones stay while the rest may still come."""
    posted = NOW - timedelta(hours=3)
    assert not admit(store, stamp(posted), at=NOW).held
    assert not admit(store, stamp(posted + timedelta(seconds=1)), at=NOW).held
    store.purge(NOW - timedelta(days=90), now=NOW + timedelta(minutes=30))
    assert admit(store, stamp(posted + timedelta(seconds=2)), at=NOW + timedelta(minutes=30)).held

"""The updates' tables: each event applied once by one worker, milestones queued once, polling
turns shared — on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.delivery.outbox import Outbox
from bot.slack.replies import Confirmation
from bot.updates.decide import Switches
from bot.updates.events import LinkAdded, NeedLink, TargetCompleted, ThreadSnapshot
from bot.updates.state import Status
from bot.updates.store import UpdatesStore
from tests.databases import outbox_at
from tests.updates.conftest import Clock
from tests.updates.helpers import add, record

pytestmark = pytest.mark.timeout(60)

ON = Switches()


@pytest.fixture
def outbox(url: str) -> Iterator[Outbox]:
    box = outbox_at(url)
    yield box
    box.close()


@pytest.fixture
def store(outbox: Outbox, clock: Clock) -> UpdatesStore:
    return UpdatesStore(outbox.database, clock=clock)


def test_an_event_id_is_stored_once(store: UpdatesStore) -> None:
    assert add(store, "evt_1", {"id": "th_1"})
    assert not add(store, "evt_1", {"id": "th_1", "status": "done"})
    assert store.counts() == {"events.pending": 1}


def test_a_claimed_event_is_not_claimed_again_until_its_lease_runs_out(
    store: UpdatesStore, clock: Clock
) -> None:
    add(store, "evt_1", {"id": "th_1"})
    [event] = store.claim_events("a", 10, lease_seconds=30)
    assert event.event_id == "evt_1"
    assert event.attempts == 1
    assert store.claim_events("b", 10, lease_seconds=30) == []
    clock.advance(31)
    [again] = store.claim_events("b", 10, lease_seconds=30)
    assert again.attempts == 2
    # The first owner lost it: its apply changes nothing.
    assert store.apply(event, "a", None, ON) is None
    assert store.apply(again, "b", None, ON) == "ignored"
    assert store.counts() == {"events.applied": 1}


def test_applying_changes_the_state_and_queues_effects_once(store: UpdatesStore) -> None:
    store.remember(record())
    add(store, "evt_1", {})
    [event] = store.claim_events("a", 10, 30)
    snapshot = ThreadSnapshot("th_1", "done", store.now(), None)
    assert store.apply(event, "a", snapshot, ON) == "status done"
    state = store.thread_state("th_1")
    assert state is not None
    assert state.status is Status.DONE
    assert state.done_reached
    keys = sorted(e.effect_key for e in store.claim_effects("a", 10, 30))
    assert keys == ["done:th_1", "edit:th_1"]


def test_an_event_for_a_thread_the_bot_did_not_create_is_ignored(store: UpdatesStore) -> None:
    add(store, "evt_1", {})
    [event] = store.claim_events("a", 10, 30)
    assert (
        store.apply(event, "a", ThreadSnapshot("th_other", "done", None), ON)
        == "not a thread the bot created"
    )
    assert store.claim_effects("a", 10, 30) == []


def test_remembering_again_moves_the_reply_but_keeps_what_slack_was_told(store: UpdatesStore) -> None:
    store.remember(record())
    add(store, "evt_1", {})
    [event] = store.claim_events("a", 10, 30)
    store.apply(event, "a", ThreadSnapshot("th_1", "done", store.now(), None), ON)
    store.remember(record(reply_ts="200.000001"))
    side = store.slack_side("th_1")
    assert side is not None
    assert side.reply_ts == "200.000001"
    assert side.status is Status.DONE


def test_the_stored_confirmation_keeps_its_notes_button_and_editor(store: UpdatesStore) -> None:
    shown = Confirmation(
        "https://pl.test/feedback/th_1",
        "Title",
        "High",
        None,
        "U1",
        notes=("The thread's 2 later messages stayed in Slack.",),
        edit_value="reaction:C1:100.000001",
        edited_by="U2",
    )
    store.remember(record(confirmation=shown))
    side = store.slack_side("th_1")
    assert side is not None
    assert side.confirmation == shown


def test_a_thread_created_as_done_is_not_announced_as_done(store: UpdatesStore) -> None:
    store.remember(record(status="done"))
    add(store, "evt_1", {})
    [event] = store.claim_events("a", 10, 30)
    store.apply(event, "a", ThreadSnapshot("th_1", "done", store.now(), None), ON)
    assert store.claim_effects("a", 10, 30) == []


def test_links_are_found_by_issue_for_completion(store: UpdatesStore) -> None:
    store.remember(record("th_1"))
    store.remember(record("th_2"))
    for index, thread_id in enumerate(("th_1", "th_2", "th_unknown")):
        add(store, f"evt_link_{index}", {})
        [event] = store.claim_events("a", 10, 30)
        store.apply(event, "a", LinkAdded(NeedLink(f"cn_{index}", thread_id, "is_1", None, "Dark mode")), ON)
    assert store.is_linked("issue", "is_1")
    assert store.known_name("issue", "is_1") == "Dark mode"
    assert store.known_links("th_1") == {"cn_0"}
    add(store, "evt_done", {})
    [event] = store.claim_events("a", 10, 30)
    assert (
        store.apply(event, "a", TargetCompleted("issue", "is_1", None), ON)
        == "issue completed; issue completed"
    )
    posts = sorted(e.effect_key for e in store.claim_effects("a", 10, 30) if e.kind == "post")
    assert posts == ["shipped:th_1", "shipped:th_2"]


def test_many_workers_apply_each_event_once(url: str, clock: Clock) -> None:
    """Four workers with their own connections race over 60 events flipping one thread's status."""
    boxes = [outbox_at(url) for _ in range(4)]
    stores = [UpdatesStore(box.database, clock=clock) for box in boxes]
    try:
        stores[0].remember(record())
        for index in range(60):
            status = "done" if index % 2 else "open"
            add(stores[0], f"evt_{index}", {"id": "th_1", "status": status})
        applied: list[str] = []
        lock = threading.Lock()

        def work(store: UpdatesStore, owner: str) -> None:
            while claimed := store.claim_events(owner, 3, 30):
                for event in claimed:
                    data = event.payload["data"]
                    when = store.now() + timedelta(seconds=int(event.event_id.split("_")[1]))
                    outcome = store.apply(event, owner, ThreadSnapshot("th_1", data["status"], when), ON)
                    if outcome is not None:
                        with lock:
                            applied.append(event.event_id)

        workers = [threading.Thread(target=work, args=(s, f"w{i}")) for i, s in enumerate(stores)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(applied) == sorted(f"evt_{i}" for i in range(60))
        state = stores[0].thread_state("th_1")
        assert state is not None
        assert state.status is Status.DONE  # evt_59, the newest snapshot, whatever the order
        posts = [e for e in stores[0].claim_effects("x", 100, 30) if e.kind == "post"]
        assert [p.effect_key for p in posts] == ["done:th_1"]
    finally:
        for box in boxes:
            box.close()


def test_an_edit_asked_for_during_its_send_is_sent_again(store: UpdatesStore) -> None:
    store.remember(record())

    def apply(event_id: str, status: str, seconds: int) -> None:
        add(store, event_id, {})
        [event] = store.claim_events("applier", 10, 30)
        when = store.now() + timedelta(seconds=seconds)
        store.apply(event, "applier", ThreadSnapshot("th_1", status, when), Switches(post_done=False))

    apply("evt_1", "snoozed", 1)
    [sending] = store.claim_effects("sender", 10, 30)
    apply("evt_2", "done", 2)  # while the first edit is on its way
    assert store.claim_effects("other", 10, 30) == []  # still one edit at a time
    store.effect_sent(sending, "sender")
    [again] = store.claim_effects("sender", 10, 30)
    assert again.effect_key == "edit:th_1"
    assert again.generation == sending.generation + 1
    store.effect_sent(again, "sender")
    assert store.claim_effects("sender", 10, 30) == []
    assert store.counts()["effects.done"] == 1


def test_retried_and_dropped_effects(store: UpdatesStore, clock: Clock) -> None:
    store.remember(record())
    add(store, "evt_1", {})
    [event] = store.claim_events("a", 10, 30)
    store.apply(event, "a", ThreadSnapshot("th_1", "done", store.now(), None), ON)
    edit, post = sorted(store.claim_effects("a", 10, 30), key=lambda e: e.effect_key, reverse=True)
    store.effect_retry(post, "a", store.now() + timedelta(seconds=5), "ratelimited")
    store.effect_dropped(edit, "a", "message_not_found")
    assert store.claim_effects("a", 10, 30) == []
    clock.advance(5)
    [retried] = store.claim_effects("a", 10, 30)
    assert retried.effect_key == "done:th_1"
    assert retried.attempts == 1
    assert store.counts()["effects.dropped"] == 1


def test_the_next_retry_is_the_first_event_or_effect_waiting_for_its_time(
    store: UpdatesStore, clock: Clock
) -> None:
    assert store.next_retry_at() is None
    store.remember(record())
    add(store, "evt_1", {})
    assert store.next_retry_at() == store.now()  # a new event is due at once
    [event] = store.claim_events("a", 10, 30)
    assert store.next_retry_at() is None  # being applied: not waiting
    store.apply(event, "a", ThreadSnapshot("th_1", "done", store.now(), None), ON)
    effects = store.claim_effects("a", 10, 30)
    assert store.next_retry_at() is None  # being sent
    for effect, seconds in zip(effects, (7, 5), strict=True):
        store.effect_retry(effect, "a", store.now() + timedelta(seconds=seconds), "ratelimited")
    assert store.next_retry_at() == store.now() + timedelta(seconds=5)
    add(store, "evt_2", {})
    [later] = store.claim_events("a", 10, 30)
    store.retry_event(later, "a", store.now() + timedelta(seconds=3), "broken")
    assert store.next_retry_at() == store.now() + timedelta(seconds=3)


def test_polling_turns(store: UpdatesStore, clock: Clock) -> None:
    store.remember(record("th_1"), poll_after=10)
    store.remember(record("th_2", status="done"), poll_after=10)
    assert store.claim_poll(10, timedelta(days=90)) is None  # not due yet
    clock.advance(10)
    assert store.claim_poll(10, timedelta(days=90)) == "th_1"
    assert store.claim_poll(10, timedelta(days=90)) is None  # done threads are not looked at
    clock.advance(10)
    assert store.claim_poll(10, timedelta(days=90)) == "th_1"
    clock.advance(86400 * 91)
    assert store.claim_poll(10, timedelta(days=90)) is None  # remembered too long ago


def test_prune_forgets_settled_rows_only(store: UpdatesStore, clock: Clock) -> None:
    store.remember(record())
    add(store, "evt_1", {})
    add(store, "evt_2", {})
    [first, _second] = store.claim_events("a", 10, 30)
    store.apply(first, "a", ThreadSnapshot("th_1", "done", store.now(), None), ON)
    for effect in store.claim_effects("a", 10, 30):
        store.effect_sent(effect, "a")
    clock.advance(3600)
    assert store.prune(store.now()) == 3  # evt_1 and its two effects; evt_2 is still being applied
    assert store.counts() == {"events.applying": 1}

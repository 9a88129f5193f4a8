"""The updates worker keeps going whatever Slack or the data throw at it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from slack_sdk import WebClient

from bot.updates.decide import Switches
from bot.updates.events import ThreadSnapshot
from bot.updates.schema import threads
from bot.updates.slack_side import SlackThreadUpdater
from bot.updates.store import UpdatesStore
from bot.updates.worker import EffectSender, EventApplier, UpdatesWorker
from tests.databases import ClosingOutbox, database_url, outbox_at
from tests.fakes.slack import FakeSlackWebAPI
from tests.pace import PATIENCE
from tests.updates.conftest import Clock
from tests.updates.helpers import add, record
from tests.updates.rig import Rig, running_rig
from tests.wakes import OneWait

pytestmark = pytest.mark.timeout(60)


def test_an_event_that_cannot_be_applied_is_retried_and_the_worker_lives_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_rig(database_url("sqlite", tmp_path)) as rig:
        broken = rig.new_thread()
        with rig.outbox.database.writing() as conn:
            conn.execute(sa.update(threads).where(threads.c.thread_id == broken).values(status="corrupt"))
        rig.productlane.set_thread_status(broken, "done")
        healthy = rig.new_thread(thread_ts="1700000005.000100", reply_ts="1700000005.000200")
        rig.productlane.set_thread_status(healthy, "done")
        assert rig.productlane.webhooks.wait_idle()
        deadline = time.monotonic() + 15
        while not rig.posts("1700000005.000100"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert rig.updates.problems() == []
        assert "applying Productlane event" in caplog.text
        counts = rig.updates.store.counts()
        assert counts.get("events.pending", 0) + counts.get("events.applying", 0) == 1  # being retried
        assert rig.posts() == []


def test_junk_in_a_stored_event_is_ignored(tmp_path: Path, clock: Clock) -> None:
    outbox = outbox_at(database_url("sqlite", tmp_path))
    store = UpdatesStore(outbox.database, clock=clock)
    store.add_event("evt_junk", "thread.updated", {"id": "evt_junk", "type": "thread.updated", "data": []})
    [event] = store.claim_events("a", 1, 30)
    assert store.apply(event, "a", None, Switches()) == "ignored"
    outbox.close()


@pytest.fixture
def slack() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI() as fake:
        yield fake


def done_reply_queued(tmp_path: Path, clock: Clock) -> tuple[ClosingOutbox, UpdatesStore]:
    """A remembered thread marked done in Productlane: its event applied, the done reply queued."""
    outbox = outbox_at(database_url("sqlite", tmp_path))
    store = UpdatesStore(outbox.database, clock=clock)
    store.remember(record())
    add(store, "evt_1", {})
    [event] = store.claim_events("a", 1, 30)
    store.apply(event, "a", ThreadSnapshot("th_1", "done", store.now()), Switches(edit_confirmation=False))
    return outbox, store


def test_a_slack_failure_that_never_ends_is_dropped_after_the_last_attempt(
    tmp_path: Path, clock: Clock, slack: FakeSlackWebAPI
) -> None:
    slack.respond("chat.postMessage", {"ok": False, "error": "internal_error"}, status=500)
    outbox, store = done_reply_queued(tmp_path, clock)
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=5)
    sender = EffectSender(store, SlackThreadUpdater(client), max_attempts=3, backoff=lambda attempts: 0.0)
    for _ in range(5):
        sender.send_due("a")
    assert len(slack.calls("chat.postMessage")) == 3
    assert store.counts() == {"events.applied": 1, "effects.dropped": 1}
    outbox.close()


def test_updates_turned_off_start_no_worker(tmp_path: Path) -> None:
    with running_rig(
        database_url("sqlite", tmp_path),
        subscribe=False,
        productlane_webhook_secret="",
        productlane_poll_seconds=0,
    ) as rig:
        assert rig.updates.mode == "off"
        assert not rig.updates.webhooks_enabled
        assert not rig.updates.worker.running
        assert rig.updates.problems() == []


def test_remembering_never_raises_into_delivery(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with running_rig(database_url("sqlite", tmp_path)) as rig:
        with rig.outbox.database.writing() as conn:
            conn.execute(sa.text("DROP TABLE updates_threads"))
        Rig.new_thread(rig)  # remember_thread hits the missing table
        assert "could not remember the Slack side of thread" in caplog.text


@pytest.mark.parametrize(("retry_in", "slept"), [(0.5, 0.5), (5.0, 1.0)])
def test_between_passes_the_worker_sleeps_until_a_retry_comes_due_within_its_idle_interval(
    tmp_path: Path, clock: Clock, retry_in: float, slept: float
) -> None:
    """A reply Slack made wait half a second is posted then, not at the worker's next idle tick;
    a retry due later than that is looked at after the idle interval, as ever."""
    outbox, store = done_reply_queued(tmp_path, clock)
    [post] = store.claim_effects("a", 1, 30)
    store.effect_retry(post, "a", store.now() + timedelta(seconds=retry_in), "ratelimited")
    worker = UpdatesWorker(
        store,
        EventApplier(store, None, Switches()),  # type: ignore[arg-type]  # nothing to apply
        EffectSender(store, None),  # type: ignore[arg-type]  # nothing due to send
        idle_interval=1.0,
    )
    wake = OneWait(worker._threads.stopping)
    worker._threads.wake = worker._wake = wake
    worker.start()
    assert wake.waited.wait(PATIENCE), "the worker never went to sleep"
    worker.stop()
    assert wake.waits == [pytest.approx(slept, abs=0.01)]
    outbox.close()

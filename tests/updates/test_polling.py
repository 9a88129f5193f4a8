"""Without a public URL (no webhook secret) the bot polls the threads it created."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.productlane import ProductlaneClient
from bot.slack.replies import Confirmation
from bot.updates import RememberedThread
from bot.updates.store import UpdatesStore
from bot.updates.worker import Poller
from tests.databases import database_url, outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.running_bot import wait_until
from tests.updates.conftest import Clock
from tests.updates.rig import Rig, running_rig

pytestmark = pytest.mark.timeout(60)

DONE = "✅ Marked done in Productlane"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_rig(
        database_url("sqlite", tmp_path),
        subscribe=False,
        productlane_webhook_secret="",
        productlane_poll_seconds=0.05,
    ) as running:
        yield running


def test_polling_mode_posts_the_done_reply(rig: Rig) -> None:
    assert rig.updates.mode == "polling"
    thread_id = rig.new_thread()
    rig.productlane.set_thread_status(thread_id, "done")  # no webhook: nobody is subscribed
    wait_until(lambda: rig.posts(), "the done reply")
    rig.settle()
    assert rig.posts() == [DONE]
    assert rig.last_status_line() == "Status in Productlane: Done"
    assert rig.productlane.requests_to("GET", f"/threads/{thread_id}")


def test_polling_sees_a_deleted_thread(rig: Rig) -> None:
    thread_id = rig.new_thread()
    rig.productlane.delete_thread(thread_id)
    wait_until(lambda: rig.edits(), "the confirmation edited")
    rig.settle()
    assert rig.last_status_line() == "Removed from Productlane"


def test_polling_shows_links_it_finds_on_the_thread(rig: Rig) -> None:
    thread_id = rig.new_thread()
    issue = rig.productlane.seed_issue("CSV export v2")
    rig.productlane.link_thread(thread_id, issue_id=issue["id"])
    wait_until(lambda: rig.edits(), "the confirmation edited")
    rig.settle()
    assert rig.last_status_line() == "Status in Productlane: Open · Linked to CSV export v2"


def test_webhooks_configured_means_no_polling(tmp_path: Path) -> None:
    with running_rig(database_url("sqlite", tmp_path), productlane_poll_seconds=0.2) as rig:
        assert rig.updates.mode == "webhooks"
        rig.new_thread()
        rig.settle()
        assert rig.updates.worker._poller is None


# --- the poller alone, on a fixed clock ----------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeProductlane]:
    with FakeProductlane() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[UpdatesStore]:
    outbox = outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield UpdatesStore(outbox.database, clock=clock)
    outbox.close()


def remember(store: UpdatesStore, fake: FakeProductlane, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        created = fake.seed_thread({"text": "<p>x</p>", "contact_email": "x@example.com"})
        store.remember(
            RememberedThread(
                created["id"],
                Confirmation("https://x", "t", "High", None, "U1"),
                "C1",
                "1.1",
                "C1",
                "1.2",
                False,
                status_as_of=datetime.now(UTC),
            ),
            poll_after=0,
        )
        ids.append(created["id"])
    return ids


def test_a_pass_stays_within_its_read_budget(fake: FakeProductlane, store: UpdatesStore) -> None:
    remember(store, fake, 8)
    client = ProductlaneClient(fake.api_key, fake.url)
    poller = Poller(store, client, interval=1.0, read_slot=lambda: 0.0)  # 300 reads/min → 5 a second
    assert poller.poll_due() == 5
    assert len(fake.requests_to("GET", "/threads")) == 0
    assert sum(r.path.startswith("/threads/") for r in fake.requests) == 5
    client.close()


def test_a_spent_shared_budget_ends_the_pass(fake: FakeProductlane, store: UpdatesStore) -> None:
    remember(store, fake, 5)
    client = ProductlaneClient(fake.api_key, fake.url)
    slots = iter([0.0, 0.0, 30.0, 0.0, 0.0, 0.0])
    poller = Poller(store, client, interval=60.0, read_slot=lambda: next(slots))
    assert poller.poll_due() == 2
    assert poller.poll_due() == 3  # the thread given back is due again, with the two never reached
    client.close()


def test_the_same_snapshot_polled_twice_is_one_event(
    fake: FakeProductlane, store: UpdatesStore, clock: Clock
) -> None:
    remember(store, fake, 1)
    client = ProductlaneClient(fake.api_key, fake.url)
    poller = Poller(store, client, interval=10.0, read_slot=lambda: 0.0)
    assert poller.poll_due() == 1
    clock.advance(10)
    assert poller.poll_due() == 0  # looked at again, nothing new
    assert store.counts() == {"events.pending": 1}
    client.close()


def test_a_key_without_threads_read_is_said_once(
    fake: FakeProductlane, store: UpdatesStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    remember(store, fake, 2)
    fake.set_scopes(["threads:write"])
    client = ProductlaneClient(fake.api_key, fake.url)
    poller = Poller(store, client, interval=10.0, read_slot=lambda: 0.0, window=timedelta(days=1))
    assert poller.poll_due() == 0
    clock.advance(10)
    assert poller.poll_due() == 0
    assert (
        len([r for r in caplog.records if r.levelno == logging.WARNING and "threads:read" in r.getMessage()])
        == 1
    )
    client.close()

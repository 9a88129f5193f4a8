"""Retention reaches the confirmations: once a delivered submission is purged
(OUTBOX_RETENTION_DAYS), what the bot kept to render its confirmation again — the title, the
contact's name and email, the triage's names — goes with it; news about the thread still reaches
Slack, and nothing of a submission within retention is touched. SQLite, and PostgreSQL with
TEST_DATABASE_URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.delivery.outbox import Outbox
from bot.delivery.retention import purge
from bot.slack.replies import Confirmation
from bot.updates.store import UpdatesStore
from tests.databases import outbox_at
from tests.updates.conftest import Clock
from tests.updates.helpers import record

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=90)
PRIVATE = ("CSV export stalls", "Jane Doe", "jane@acme.test", "Acme Corp", "Big customers")


def confirmation(thread_id: str) -> Confirmation:
    return Confirmation(
        f"https://pl.test/feedback/{thread_id}",
        "CSV export stalls",
        "High",
        "Jane Doe <jane@acme.test>",
        "U0CSM0002",
        triage=("Company: Acme Corp", "Tags: Big customers"),
    )


@pytest.fixture
def outbox(url: str) -> Iterator[Outbox]:
    box = outbox_at(url)
    yield box
    box.close()


def delivered(outbox: Outbox, store: UpdatesStore, clock: Clock, thread_id: str, at: datetime) -> int:
    """A submission delivered at ``at`` as ``thread_id``, its confirmation remembered then."""
    payload = {"submitter_id": "U0CSM0002", "source": {"channel_id": "C1", "ts": f"{at.timestamp():.6f}"}}
    item_id = outbox.add(thread_id, "create_thread", payload, now=at).id
    outbox.claim("w", 1, 30, now=at)
    result = {"thread_id": thread_id, "url": f"https://pl.test/feedback/{thread_id}"}
    assert outbox.mark_delivered(item_id, "w", result, now=at)
    clock.set(at)
    store.remember(record(thread_id, confirmation=confirmation(thread_id)))
    return item_id


def stored_confirmation(outbox: Outbox, thread_id: str) -> str:
    with outbox.database.reading() as conn:
        value = conn.execute(
            sa.text("SELECT confirmation FROM updates_threads WHERE thread_id = :t"), {"t": thread_id}
        ).scalar_one()
    return value if isinstance(value, str) else json.dumps(value)


def test_a_purged_submission_takes_its_confirmations_words_and_nothing_else(
    outbox: Outbox, clock: Clock
) -> None:
    store = UpdatesStore(outbox.database, clock=clock)
    old = delivered(outbox, store, clock, "th_old", NOW - timedelta(days=91))
    recent = delivered(outbox, store, clock, "th_recent", NOW - timedelta(days=89))
    clock.set(NOW)

    result = purge(outbox, RETENTION, now=NOW, forget=(store.forget_confirmations,))

    assert result.delivered_items == 1
    assert result.forgotten == 1
    assert outbox.get(old) is None
    kept = stored_confirmation(outbox, "th_old")
    assert [word for word in PRIVATE if word in kept] == []
    # Where news about the old thread goes stays: "done" and "shipped" still reach its Slack thread.
    side = store.slack_side("th_old")
    assert side is not None
    assert (side.channel_id, side.thread_ts) == ("C1", "100.000001")
    assert side.confirmation_forgotten
    assert side.confirmation.submitter_id == "U0CSM0002"
    assert side.confirmation.thread_url == "https://pl.test/feedback/th_old"
    # Within retention: the item and every word of its confirmation.
    assert outbox.get(recent) is not None
    fresh = store.slack_side("th_recent")
    assert fresh is not None
    assert fresh.confirmation == confirmation("th_recent")
    assert not fresh.confirmation_forgotten
    # The next purge finds nothing more to forget.
    assert purge(outbox, RETENTION, now=NOW, forget=(store.forget_confirmations,)).forgotten == 0

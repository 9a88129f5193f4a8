"""Retention: delivered submissions are deleted after OUTBOX_RETENTION_DAYS, the duplicate guard
still remembers what was sent, and an outbox from before the guard had its own table keeps its memory."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db.schema import SCHEMA_VERSION
from bot.delivery.drafts import SqlDraftStore
from bot.delivery.outbox import Outbox
from bot.delivery.retention import RetentionJanitor, purge
from bot.delivery.sent import find_sent, record_sent
from bot.feedback.submission import Draft
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at
from tests.delivery.test_commands import run

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PAYLOAD = {"submitter_id": "U0CSM0002", "source": {"channel_id": "C0FEEDBACK", "ts": "1.000100"}}


@pytest.fixture(params=BACKENDS)
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    box = outbox_at(database_url(request.param, tmp_path))
    yield box
    box.close()


def delivered(outbox: Outbox, key: str, at: datetime) -> int:
    item_id = outbox.add(key, "create_thread", PAYLOAD, now=at).id
    outbox.claim("w", 1, 30, now=at)
    assert outbox.mark_delivered(item_id, "w", {"thread_id": "th_1", "url": "https://x/th_1"}, now=at)
    return item_id


def test_delivered_items_past_retention_are_purged_and_the_rest_kept(outbox: Outbox) -> None:
    old = delivered(outbox, "old", NOW - timedelta(days=91))
    recent = delivered(outbox, "recent", NOW - timedelta(days=89))
    waiting = outbox.add("waiting", "create_thread", PAYLOAD, now=NOW - timedelta(days=200)).id
    result = purge(outbox, timedelta(days=90), now=NOW)
    assert result.delivered_items == 1
    assert outbox.get(old) is None
    assert outbox.get(recent) is not None
    assert outbox.get(waiting) is not None, "a submission still waiting is never purged"


def test_purge_deletes_in_batches_until_nothing_old_is_left(outbox: Outbox) -> None:
    for index in range(12):
        delivered(outbox, f"k{index}", NOW - timedelta(days=100))
    assert outbox.purge_delivered(NOW, batch=5) == 12
    assert outbox.list_items() == []


def test_the_duplicate_guard_outlives_the_purged_item(outbox: Outbox) -> None:
    delivered(outbox, "old", NOW - timedelta(days=400))
    record_sent(
        outbox.database,
        "C0FEEDBACK",
        "1.000100",
        thread_id="th_1",
        thread_url="https://x/th_1",
        submitter_id="U0CSM0002",
        delivered_at=NOW - timedelta(days=400),
    )
    purge(outbox, timedelta(days=90), now=NOW)
    record = find_sent(outbox.database, "C0FEEDBACK", "1.000100")
    assert record is not None
    assert record.thread_url == "https://x/th_1"
    assert record.submitter_id == "U0CSM0002"
    assert find_sent(outbox.database, "C0FEEDBACK", "2.000200") is None


def test_sending_a_message_again_keeps_the_latest_thread(outbox: Outbox) -> None:
    for thread in ("th_1", "th_2"):
        record_sent(
            outbox.database,
            "C1",
            "1.1",
            thread_id=thread,
            thread_url=f"https://x/{thread}",
            submitter_id="U1",
        )
    record = find_sent(outbox.database, "C1", "1.1")
    assert record is not None
    assert record.thread_url == "https://x/th_2"


def test_unsubmitted_drafts_are_purged_after_a_week(outbox: Outbox) -> None:
    drafts = SqlDraftStore(outbox.database)
    drafts.put(Draft(draft_id="d1", submitter_id="U1"))
    assert purge(outbox, timedelta(days=90), now=datetime.now(UTC) + timedelta(days=8)).drafts == 1
    assert SqlDraftStore(outbox.database).get("d1") is None, "no replica (or restarted bot) finds it"


def test_the_purge_command_says_what_it_removed(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    with outbox_at(f"sqlite:///{database}") as box:
        delivered(box, "old", datetime.now(UTC) - timedelta(days=100))
        delivered(box, "recent", datetime.now(UTC) - timedelta(days=10))
    status, output = run(database, purge_days=30)
    assert status == 0
    assert "purged 1 delivered item(s) older than 30 day(s)" in output
    status, output = run(database, purge_days=0)
    assert status == 2


V1_ITEMS = """
CREATE TABLE outbox_items (
    id INTEGER PRIMARY KEY, dedupe_key VARCHAR(255) NOT NULL UNIQUE, kind VARCHAR(64) NOT NULL,
    payload JSON NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL,
    lease_owner VARCHAR(255), lease_until BIGINT, first_sent_at BIGINT, last_error VARCHAR(500),
    result JSON, delayed_notice_sent BOOLEAN NOT NULL
);
CREATE TABLE outbox_schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO outbox_schema_version VALUES (1, 1);
"""


def test_an_outbox_from_version_1_keeps_what_the_duplicate_guard_knew(tmp_path: Path) -> None:
    database = tmp_path / "v1.db"
    with sqlite3.connect(database) as connection:
        connection.executescript(V1_ITEMS)
        connection.execute(
            "INSERT INTO outbox_items VALUES (1, 'k1', 'create_thread', ?, 'delivered', 1, 1, "
            "1700000000000000, 1, NULL, NULL, 1, NULL, ?, 0)",
            (
                '{"submitter_id": "U0CSM0002", "source": {"channel_id": "C0FEEDBACK", "ts": "1.000100"}}',
                '{"thread_id": "th_9", "url": "https://x/th_9"}',
            ),
        )
    with outbox_at(f"sqlite:///{database}") as box:
        assert box.database.schema_version == SCHEMA_VERSION
        record = find_sent(box.database, "C0FEEDBACK", "1.000100")
    assert record is not None
    assert record.thread_url == "https://x/th_9"
    assert record.delivered_at == datetime.fromtimestamp(1_700_000_000, UTC)


def test_the_janitor_purges_when_due_in_a_thread_that_ends_with_the_purge(tmp_path: Path) -> None:
    outbox = outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}")
    try:
        old = delivered(outbox, "old", datetime.now(UTC) - timedelta(days=100))
        now = [0.0]
        janitor = RetentionJanitor(outbox, timedelta(days=90), clock=lambda: now[0])
        now[0] = 59.0
        assert not janitor.tick(), "not in the first minute, when the first acks arrive"
        now[0] = 60.0
        assert janitor.tick()
        janitor.stop()
        assert outbox.get(old) is None
        assert not any(thread.name == "retention" for thread in threading.enumerate())
        now[0] = 60.0 + 6 * 3600 - 1
        assert not janitor.tick()
        now[0] = 60.0 + 6 * 3600
        assert janitor.tick()
        janitor.stop()
    finally:
        outbox.close()


def test_other_features_purges_run_with_the_same_cut_off(outbox: Outbox) -> None:
    asked: list[datetime] = []

    def held_items(before: datetime) -> int:
        asked.append(before)
        return 2

    result = purge(outbox, timedelta(days=30), now=NOW, also=[held_items])
    assert asked == [NOW - timedelta(days=30)]
    assert result.others == 2

"""The outbox store, on SQLite and (when TEST_DATABASE_URL is set) on PostgreSQL.

TEST_DATABASE_URL must name a throw-away database (`eval "$(bash .ci/postgres.sh)"` makes
one): each PostgreSQL test drops and recreates the outbox_* tables in it.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.delivery.schema  # noqa: F401 - the outbox's migration steps
from bot.budgets.key_pause import KeyPause
from bot.budgets.write_limits import WriteLimits
from bot.db import schema as outbox_schema
from bot.delivery import Outbox, Status
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


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


# -- adding --------------------------------------------------------------------------------


def test_add_creates_a_pending_item_due_at_once(outbox: Outbox) -> None:
    result = outbox.add("slack:T1:view:V1", "thread", {"text": "<p>hi</p>", "n": [1, 2]})
    assert result.created
    item = outbox.get(result.id)
    assert item is not None
    assert item.dedupe_key == "slack:T1:view:V1"
    assert item.kind == "thread"
    assert item.payload == {"text": "<p>hi</p>", "n": [1, 2]}
    assert item.status is Status.PENDING
    assert item.attempts == 0
    assert item.created_at == item.updated_at == item.next_attempt_at == T0
    assert item.lease_owner is None
    assert item.lease_until is None
    assert item.first_sent_at is None
    assert item.last_error is None
    assert item.result is None
    assert item.delayed_notice_sent is False


def test_the_same_dedupe_key_returns_the_existing_item(outbox: Outbox) -> None:
    first = outbox.add("key-1", "thread", {"v": 1})
    again = outbox.add("key-1", "thread", {"v": 2}, now=at(5))
    other = outbox.add("key-2", "thread", {"v": 3})
    assert again.id == first.id
    assert not again.created
    assert other.created
    assert other.id != first.id
    item = outbox.get(first.id)
    assert item is not None
    assert item.payload == {"v": 1}
    assert item.updated_at == T0
    assert outbox.counts()[Status.PENDING] == 2


def test_add_rejects_what_it_cannot_store(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="dedupe_key"):
        outbox.add("", "thread", {})
    with pytest.raises(ValueError, match="dedupe_key"):
        outbox.add("k" * 256, "thread", {})
    with pytest.raises(TypeError, match="JSON object"):
        outbox.add("k", "thread", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        outbox.add("k", "thread", {}, now=datetime(2026, 1, 1))
    assert outbox.counts()[Status.PENDING] == 0


def test_get_of_an_unknown_id_is_none(outbox: Outbox) -> None:
    assert outbox.get(12345) is None


def test_times_in_other_zones_are_stored_as_utc(outbox: Outbox) -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    item_id = outbox.add("k", "thread", {}, now=plus_two).id
    item = outbox.get(item_id)
    assert item is not None
    assert item.created_at == T0
    assert item.created_at.utcoffset() == timedelta(0)


# -- claiming and leases -------------------------------------------------------------------


def test_claim_takes_due_items_oldest_first(outbox: Outbox) -> None:
    ids = [outbox.add(f"k{i}", "thread", {"i": i}, now=at(i)).id for i in range(4)]
    assert outbox.claim("w1", limit=2, lease_seconds=30, now=at(10)) == [
        outbox.get(ids[0]),
        outbox.get(ids[1]),
    ]
    second = outbox.claim("w2", limit=10, lease_seconds=30, now=at(10))
    assert [item.id for item in second] == ids[2:]
    for item in second:
        assert item.status is Status.SENDING
        assert item.lease_owner == "w2"
        assert item.lease_until == at(40)
        assert item.attempts == 0
    assert outbox.claim("w3", limit=10, lease_seconds=30, now=at(10)) == []
    assert outbox.counts()[Status.SENDING] == 4


def test_claim_skips_items_not_yet_due(outbox: Outbox) -> None:
    early = outbox.add("early", "thread", {}, now=at(0)).id
    outbox.add("later", "thread", {}, now=at(100))
    assert [i.id for i in outbox.claim("w", 10, 30, now=at(50))] == [early]


def test_claim_checks_its_arguments(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="owner"):
        outbox.claim("", 1, 30)
    with pytest.raises(ValueError, match="limit"):
        outbox.claim("w", 0, 30)
    with pytest.raises(ValueError, match="lease_seconds"):
        outbox.claim("w", 1, 0)


def test_an_expired_lease_is_claimable_again(outbox: Outbox) -> None:
    """A worker that claimed and started sending, then died, leaves its item to others."""
    item_id = outbox.add("k", "thread", {}).id
    (mine,) = outbox.claim("dead-worker", 5, lease_seconds=30, now=at(1))
    assert outbox.mark_attempt(item_id, "dead-worker", now=at(2))

    # Still leased: nobody else gets it.
    assert outbox.claim("w2", 5, 30, now=at(30)) == []
    # At the lease's end it is due again, with the first attempt's time kept.
    (again,) = outbox.claim("w2", 5, lease_seconds=30, now=at(31))
    assert again.id == mine.id
    assert again.lease_owner == "w2"
    assert again.first_sent_at == at(2)
    assert again.attempts == 1

    # The dead worker, had it come back, can no longer change the item.
    assert not outbox.mark_delivered(item_id, "dead-worker", {"thread_id": "t"}, now=at(32))
    assert not outbox.mark_attempt(item_id, "dead-worker", now=at(32))
    assert outbox.mark_delivered(item_id, "w2", {"thread_id": "t2"}, now=at(33))
    item = outbox.get(item_id)
    assert item is not None
    assert item.status is Status.DELIVERED
    assert item.result == {"thread_id": "t2"}
    assert item.lease_owner is None
    assert item.lease_until is None


def test_only_the_lease_owner_can_change_an_item(outbox: Outbox) -> None:
    item_id = outbox.add("k", "thread", {}).id
    outbox.claim("owner", 1, 30, now=at(1))
    assert not outbox.mark_attempt(item_id, "intruder", now=at(2))
    assert not outbox.renew_lease(item_id, "intruder", 60, now=at(2))
    assert not outbox.mark_delivered(item_id, "intruder", {}, now=at(2))
    assert not outbox.schedule_retry(item_id, "intruder", at(10), "x", now=at(2))
    assert not outbox.mark_failed(item_id, "intruder", "x", now=at(2))
    unchanged = outbox.get(item_id)
    assert unchanged is not None
    assert unchanged.status is Status.SENDING
    assert unchanged.attempts == 0
    assert unchanged.lease_owner == "owner"

    assert outbox.mark_delivered(item_id, "owner", {"thread_id": "t"}, now=at(3))
    # Once delivered, nothing more: not even the former owner.
    assert not outbox.mark_delivered(item_id, "owner", {}, now=at(4))
    assert not outbox.mark_failed(item_id, "owner", "x", now=at(4))
    assert not outbox.schedule_retry(item_id, "owner", at(10), "x", now=at(4))


def test_a_pending_item_cannot_be_marked_by_anyone(outbox: Outbox) -> None:
    item_id = outbox.add("k", "thread", {}).id
    assert not outbox.mark_attempt(item_id, "w", now=at(1))
    assert not outbox.mark_delivered(item_id, "w", {}, now=at(1))


def test_mark_attempt_counts_and_keeps_the_first_send_time(outbox: Outbox) -> None:
    item_id = outbox.add("k", "thread", {}).id
    outbox.claim("w", 1, lease_seconds=30, now=at(1))
    assert outbox.mark_attempt(item_id, "w", now=at(2))
    assert outbox.schedule_retry(item_id, "w", at(60), "timeout", now=at(12))
    outbox.claim("w", 1, lease_seconds=30, now=at(60))
    assert outbox.mark_attempt(item_id, "w", now=at(61))
    item = outbox.get(item_id)
    assert item is not None
    assert item.attempts == 2
    assert item.first_sent_at == at(2)


def test_mark_attempt_needs_a_live_lease_and_can_renew_it(outbox: Outbox) -> None:
    item_id = outbox.add("k", "thread", {}).id
    outbox.claim("w", 1, lease_seconds=30, now=at(0))
    assert outbox.mark_attempt(item_id, "w", lease_seconds=100, now=at(20))
    item = outbox.get(item_id)
    assert item is not None
    assert item.lease_until == at(120)
    assert outbox.renew_lease(item_id, "w", 10, now=at(119))
    assert not outbox.mark_attempt(item_id, "w", now=at(129))  # lease ran out at 129
    assert not outbox.renew_lease(item_id, "w", 10, now=at(130))
    item = outbox.get(item_id)
    assert item is not None
    assert item.attempts == 1


def test_schedule_retry_releases_the_item_until_its_time(outbox: Outbox) -> None:
    item_id = outbox.add("k", "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    outbox.mark_attempt(item_id, "w", now=at(1))
    long_error = "HTTP 503 " + "x" * 1000
    assert outbox.schedule_retry(item_id, "w", at(90), long_error, now=at(2))
    item = outbox.get(item_id)
    assert item is not None
    assert item.status is Status.PENDING
    assert item.next_attempt_at == at(90)
    assert item.lease_owner is None
    assert item.lease_until is None
    assert item.last_error is not None
    assert item.last_error.startswith("HTTP 503 ")
    assert len(item.last_error) == 500
    assert outbox.claim("w", 1, 30, now=at(89)) == []
    assert [i.id for i in outbox.claim("w", 1, 30, now=at(90))] == [item_id]


def test_retries_wait_behind_items_due_earlier(outbox: Outbox) -> None:
    retried = outbox.add("a", "thread", {}, now=at(0)).id
    outbox.claim("w", 1, 30, now=at(0))
    outbox.schedule_retry(retried, "w", at(50), "boom", now=at(1))
    fresh = outbox.add("b", "thread", {}, now=at(10)).id
    assert [i.id for i in outbox.claim("w", 5, 30, now=at(60))] == [fresh, retried]


def test_failed_items_can_be_requeued(outbox: Outbox) -> None:
    first = outbox.add("a", "thread", {}).id
    second = outbox.add("b", "thread", {}).id
    delivered = outbox.add("c", "thread", {}).id
    outbox.claim("w", 3, 30, now=at(1))
    for item_id in (first, second, delivered):
        outbox.mark_attempt(item_id, "w", now=at(1))
    assert outbox.mark_failed(first, "w", "HTTP 400 validation_failed", now=at(2))
    assert outbox.mark_failed(second, "w", "HTTP 403 scope_required", now=at(2))
    assert outbox.mark_delivered(delivered, "w", {"thread_id": "t"}, now=at(2))
    assert outbox.counts() == {
        Status.PENDING: 0,
        Status.SENDING: 0,
        Status.DELIVERED: 1,
        Status.FAILED: 2,
        Status.SUPERSEDED: 0,
    }
    failed = outbox.get(first)
    assert failed is not None
    assert failed.last_error == "HTTP 400 validation_failed"
    assert failed.lease_owner is None

    assert outbox.requeue(first, now=at(100))
    assert not outbox.requeue(delivered, now=at(100))
    assert not outbox.requeue(99999, now=at(100))
    item = outbox.get(first)
    assert item is not None
    assert item.status is Status.PENDING
    assert item.next_attempt_at == at(100)
    assert item.attempts == 0
    assert item.first_sent_at == at(1)  # a thread may exist: the worker must look first
    assert item.last_error == "HTTP 400 validation_failed"

    assert outbox.requeue_failed(now=at(100)) == 1
    assert outbox.requeue_failed(now=at(100)) == 0
    assert [i.id for i in outbox.claim("w", 5, 30, now=at(100))] == [first, second]


def test_requeue_leaves_an_item_being_sent_alone(outbox: Outbox) -> None:
    item_id = outbox.add("a", "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    assert not outbox.requeue(item_id, now=at(2))


def test_requeue_makes_a_waiting_retry_due_now(outbox: Outbox) -> None:
    item_id = outbox.add("a", "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    outbox.schedule_retry(item_id, "w", at(3600), "HTTP 500", now=at(2))
    assert outbox.requeue(item_id, now=at(5))
    assert [i.id for i in outbox.claim("w", 1, 30, now=at(5))] == [item_id]


def test_the_delayed_notice_flag_is_set_once(outbox: Outbox) -> None:
    item_id = outbox.add("a", "thread", {}).id
    assert outbox.mark_delayed_notice_sent(item_id)
    assert not outbox.mark_delayed_notice_sent(item_id)
    assert not outbox.mark_delayed_notice_sent(99999)
    item = outbox.get(item_id)
    assert item is not None
    assert item.delayed_notice_sent


def test_counts_and_listing(outbox: Outbox) -> None:
    assert outbox.counts() == dict.fromkeys(Status, 0)
    ids = [outbox.add(f"k{i}", "thread", {"i": i}).id for i in range(5)]
    outbox.claim("w", 2, 30, now=at(1))
    outbox.mark_failed(ids[1], "w", "no", now=at(2))
    assert outbox.counts() == {
        Status.PENDING: 3,
        Status.SENDING: 1,
        Status.DELIVERED: 0,
        Status.FAILED: 1,
        Status.SUPERSEDED: 0,
    }
    assert [i.id for i in outbox.list_items()] == ids
    assert [i.id for i in outbox.list_items(limit=2)] == ids[:2]
    assert [i.id for i in outbox.list_items(statuses=[Status.PENDING])] == ids[2:]
    assert [i.id for i in outbox.list_items(statuses=["failed", "sending"])] == ids[:2]
    assert outbox.list_items(statuses=[]) == []
    with pytest.raises(ValueError, match="bogus"):
        outbox.list_items(statuses=["bogus"])


def test_purge_delivered_removes_only_old_delivered_items(outbox: Outbox) -> None:
    old = outbox.add("old", "thread", {}).id
    new = outbox.add("new", "thread", {}).id
    waiting = outbox.add("waiting", "thread", {}).id
    outbox.claim("w", 2, 30, now=at(1))
    outbox.mark_delivered(old, "w", {}, now=at(2))
    outbox.mark_delivered(new, "w", {}, now=at(200))
    assert outbox.purge_delivered(before=at(100)) == 1
    assert outbox.get(old) is None
    assert outbox.get(new) is not None
    assert outbox.get(waiting) is not None


# -- the shared write limiter --------------------------------------------------------------


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` (sorted) inside any closed window of that length."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] < t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_the_limiter_allows_a_burst_then_the_rate(outbox: Outbox) -> None:
    for _ in range(10):
        assert (
            WriteLimits(outbox.database).reserve_write_slot("pl", rate_per_minute=60, burst=10, now=at(0))
            == 0.0
        )
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(0)) == pytest.approx(1.0)
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(0.25)) == pytest.approx(0.75)
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(1)) == 0.0
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(1)) == pytest.approx(1.0)
    # Keys are independent.
    assert WriteLimits(outbox.database).reserve_write_slot("other", 60, 10, now=at(1)) == 0.0
    # Idle time refills the bucket, up to the burst.
    granted = sum(
        WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(1000)) == 0.0 for _ in range(20)
    )
    assert granted == 10


def test_pause_writes_holds_everyone_then_resumes_gently(outbox: Outbox) -> None:
    WriteLimits(outbox.database).pause_writes("pl", at(30))
    WriteLimits(outbox.database).pause_writes("pl", at(10))  # an earlier pause never shortens a longer one
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(0)) == pytest.approx(30.0)
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(29.5)) == pytest.approx(0.5)
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(30)) == 0.0
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(30)) == pytest.approx(1.0)
    assert WriteLimits(outbox.database).reserve_write_slot("pl", 60, 10, now=at(31)) == 0.0


def test_the_limiter_checks_its_arguments(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="rate_per_minute"):
        WriteLimits(outbox.database).reserve_write_slot("pl", rate_per_minute=0)
    with pytest.raises(ValueError, match="burst"):
        WriteLimits(outbox.database).reserve_write_slot("pl", burst=0)
    with pytest.raises(ValueError, match="key"):
        WriteLimits(outbox.database).reserve_write_slot("")


# At most 40 examples; fewer where the loaded profile asks fewer (the fast tier's).
@settings(
    max_examples=min(40, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=150),
    rate=st.sampled_from([30, 60, 120, 600]),
    burst=st.integers(min_value=1, max_value=20),
)
def test_the_limiter_never_exceeds_rate_plus_burst_in_any_window(
    outbox: Outbox, gaps: list[float], rate: int, burst: int
) -> None:
    key = uuid.uuid4().hex
    now, granted = 0.0, []
    for gap in gaps:
        now += gap
        wait = WriteLimits(outbox.database).reserve_write_slot(key, rate, burst, now=at(now))
        if wait == 0.0:
            granted.append(now)
        else:
            assert wait > 0
            # Asking again once the wait is over succeeds (+2 µs: datetimes round to 1 µs).
            now += wait + 2e-6
            assert WriteLimits(outbox.database).reserve_write_slot(key, rate, burst, now=at(now)) == 0.0
            granted.append(now)
    interval = 60 / rate
    for window in (0.0, interval / 2, interval * 3.5, 10.0, 60.0):
        assert most_in_any_window(granted, window) <= burst + window / interval + 1e-9


# -- the database itself -------------------------------------------------------------------


def test_reopening_keeps_items_and_does_not_recreate_anything(url: str) -> None:
    with outbox_at(url) as box:
        item_id = box.add("k", "thread", {"a": 1}).id
        assert box.database.schema_version == outbox_schema.SCHEMA_VERSION
    with outbox_at(url) as box:
        assert box.add("k", "thread", {}).id == item_id
        assert box.counts()[Status.PENDING] == 1


def test_a_later_schema_version_is_migrated_once_on_start(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with outbox_at(url) as box:
        box.add("k", "thread", {})
    calls: list[int] = []

    def add_note_column(conn: sa.Connection) -> None:
        calls.append(1)
        outbox_schema.add_column_if_missing(conn, "outbox_items", "note", "VARCHAR(40)")

    monkeypatch.setattr(outbox_schema, "SCHEMA_VERSION", outbox_schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(outbox_schema.MIGRATIONS, outbox_schema.SCHEMA_VERSION, add_note_column)
    with outbox_at(url) as box:
        assert box.database.schema_version == outbox_schema.SCHEMA_VERSION
        # The step is idempotent even if its version was not recorded.
        with box.database.engine.begin() as conn:
            add_note_column(conn)
        columns = {c["name"] for c in sa.inspect(box.database.engine).get_columns("outbox_items")}
        assert "note" in columns
        assert box.counts()[Status.PENDING] == 1
    with outbox_at(url) as box:  # already at the version: the step does not run again
        assert box.database.schema_version == outbox_schema.SCHEMA_VERSION
    assert len(calls) == 2


def test_an_item_keeps_who_it_is_for_on_either_way_in(outbox: Outbox) -> None:
    first = outbox.add("k1", "thread", {"submitter_id": "U1"}, submitter_id="U1")
    edited = outbox.add("k2", "thread", {"submitter_id": "U1"}, submitter_id="U1", supersedes=first.id)
    nobody = outbox.add("k3", "thread", {})
    assert [outbox.get(i).submitter_id for i in (first.id, edited.id, nobody.id)] == ["U1", "U1", None]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="64"):
        outbox.add("k4", "thread", {}, submitter_id="U" * 65)


def test_a_version_2_database_gains_each_items_submitter_from_its_payload(url: str) -> None:
    with outbox_at(url) as box:
        ids = [
            box.add("a", "create_thread", {"submitter_id": "U0AAA", "form": {}}).id,
            box.add("b", "create_thread", {"submitter_id": "U0BBB"}).id,
            box.add("c", "create_thread", {"no": "submitter"}).id,
        ]
        with box.database.engine.begin() as conn:  # back to what version 2 built
            conn.exec_driver_sql("DROP INDEX outbox_items_submitter")
            conn.exec_driver_sql("ALTER TABLE outbox_items DROP COLUMN submitter_id")
            conn.exec_driver_sql("UPDATE outbox_schema_version SET version = 2")
    with outbox_at(url) as box:
        assert box.database.schema_version == outbox_schema.SCHEMA_VERSION
        assert [box.get(i).submitter_id for i in ids] == ["U0AAA", "U0BBB", None]  # type: ignore[union-attr]
        indexes = {index["name"] for index in sa.inspect(box.database.engine).get_indexes("outbox_items")}
        assert "outbox_items_submitter" in indexes
        with box.database.engine.begin() as conn:  # the step is idempotent
            outbox_schema.MIGRATIONS[3](conn)
        assert box.get(ids[0]).submitter_id == "U0AAA"  # type: ignore[union-attr]


def test_an_unknown_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported outbox database"):
        outbox_at("mysql://localhost/outbox")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with outbox_at(f"sqlite:///{path}") as box:
        box.add("k", "thread", {})
        with box.database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT count(*) FROM outbox_items").fetchone() == (1,)
    finally:
        raw.close()


def test_sqlite_synchronous_full_can_be_chosen(tmp_path: Path) -> None:
    with (
        outbox_at(f"sqlite:///{tmp_path / 'o.db'}", sqlite_synchronous="full") as box,
        box.database.engine.connect() as conn,
    ):
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    with pytest.raises(ValueError, match="synchronous"):
        outbox_at(f"sqlite:///{tmp_path / 'o.db'}", sqlite_synchronous="sometimes")


# -- Edit and resend: an edited copy supersedes the refused item ----------------------------------


def failed(outbox: Outbox, key: str) -> int:
    item_id = outbox.add(key, "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    assert outbox.mark_failed(item_id, "w", "HTTP 400 validation_failed", now=at(2))
    return item_id


def test_an_edited_copy_supersedes_the_refused_item_so_no_retry_sends_both(outbox: Outbox) -> None:
    refused = failed(outbox, "first")
    other = failed(outbox, "other")
    copy = outbox.add("edited", "thread", {}, supersedes=refused, now=at(3))
    assert copy.created
    item = outbox.get(refused)
    assert item is not None
    assert item.status is Status.SUPERSEDED
    assert item.superseded_by == copy.id
    assert outbox.counts()[Status.SUPERSEDED] == 1
    assert outbox.counts()[Status.FAILED] == 1
    assert [i.id for i in outbox.list_items(statuses=[Status.FAILED])] == [other]
    assert [i.id for i in outbox.list_items(statuses=["superseded"])] == [refused]

    assert not outbox.requeue(refused, now=at(4))
    assert outbox.requeue_failed(now=at(4)) == 1  # the other one only
    assert sorted(i.id for i in outbox.claim("w", 5, 30, now=at(5))) == [other, copy.id]


def test_superseding_leaves_an_item_being_sent_or_delivered_alone(outbox: Outbox) -> None:
    sending = outbox.add("sending", "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    outbox.add("edited", "thread", {}, supersedes=sending, now=at(2))
    item = outbox.get(sending)
    assert item is not None
    assert item.status is Status.SENDING
    assert item.superseded_by is None


def test_slack_retrying_the_edited_copy_changes_nothing(outbox: Outbox) -> None:
    refused = failed(outbox, "first")
    copy = outbox.add("edited", "thread", {}, supersedes=refused, now=at(3))
    again = outbox.add("edited", "thread", {}, supersedes=refused, now=at(4))
    assert again == (copy.id, False)
    item = outbox.get(refused)
    assert item is not None
    assert item.superseded_by == copy.id


# -- the thread exists, the confirmation waits ----------------------------------------------------


def test_an_item_with_its_thread_waits_only_for_its_reply(outbox: Outbox) -> None:
    item_id = outbox.add("a", "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    outbox.mark_attempt(item_id, "w", now=at(1))
    assert outbox.record_thread(item_id, "w", {"thread_id": "thr_1", "url": "u"}, now=at(2))
    assert outbox.schedule_retry(
        item_id, "w", at(10), "confirmation in Slack: ratelimited", result={"thread_id": "thr_1", "url": "u"}
    )
    waiting = outbox.add("b", "thread", {}).id
    assert outbox.claim("w", 5, 30, replies_only=True, now=at(5)) == []  # not due yet
    claimed = outbox.claim("w", 5, 30, replies_only=True, now=at(10))
    assert [i.id for i in claimed] == [item_id]
    assert claimed[0].result == {"thread_id": "thr_1", "url": "u"}
    assert [i.id for i in outbox.claim("w", 5, 30, now=at(10))] == [waiting]


def test_a_definite_refusal_can_forget_the_first_send(outbox: Outbox) -> None:
    item_id = outbox.add("a", "thread", {}).id
    outbox.claim("w", 1, 30, now=at(1))
    outbox.mark_attempt(item_id, "w", now=at(1))
    assert outbox.schedule_retry(item_id, "w", at(2), "HTTP 401", nothing_sent=True, now=at(1))
    item = outbox.get(item_id)
    assert item is not None
    assert item.first_sent_at is None


# -- the key refused: a pause every replica sees ---------------------------------------------------


def test_a_key_problem_is_one_pause_per_key_with_one_prober_at_a_time(url: str) -> None:
    with outbox_at(url, clock=lambda: T0) as first, outbox_at(url, clock=lambda: T0) as second:
        one, other = KeyPause(first.database), KeyPause(second.database)
        assert one.record_key_problem("pl", "unauthenticated", "fix it", probe_at=at(30), now=at(0))
        assert not other.record_key_problem("pl", "unsupported_key_version", "v1 key", probe_at=at(99))
        seen = other.key_problem("pl")
        assert seen is not None
        assert (seen.code, seen.message, seen.since, seen.probe_at) == (
            "unsupported_key_version",
            "v1 key",
            at(0),
            at(30),
        )
        assert one.key_problem("other key") is None
        assert [p.key for p in one.key_problems()] == ["pl"]

        assert not one.claim_key_probe("pl", 30, now=at(29))
        assert one.claim_key_probe("pl", 30, now=at(30))
        assert not other.claim_key_probe("pl", 30, now=at(30))  # the next check is at 60
        assert other.claim_key_probe("pl", 30, force=True, now=at(31))  # a process just started
        other.defer_key_probe("pl", at(200))
        assert not one.claim_key_probe("pl", 30, now=at(199))
        assert one.claim_key_probe("pl", 30, now=at(200))

        one.update_key_problem("pl", "scope_required", "lacks threads:write")
        assert other.key_problem("pl") is not None
        assert other.clear_key_problem("pl")
        assert one.key_problem("pl") is None
        assert not one.clear_key_problem("pl")
        one.update_key_problem("pl", "unauthenticated", "not brought back")
        assert one.key_problem("pl") is None


def test_holding_for_the_operator_tells_each_submitter_once(url: str) -> None:
    with outbox_at(url, clock=lambda: T0) as one, outbox_at(url, clock=lambda: T0) as other:
        ids = [one.add(f"k{i}", "thread", {"i": i}).id for i in range(3)]
        one.mark_delayed_notice_sent(ids[0])  # heard earlier (an outage)
        replied = one.add("replied", "thread", {}).id
        one.claim("w", 10, 30, now=at(1))
        one.record_thread(replied, "w", {"thread_id": "t"})
        for item_id in [*ids, replied]:
            one.schedule_retry(item_id, "w", at(1), "HTTP 500", now=at(1))
        assert [i.id for i in one.hold_for_operator("waiting for the key")] == ids[1:]
        assert other.hold_for_operator("waiting for the key") == []
        assert [one.get(i).last_error for i in ids] == ["waiting for the key"] * 3  # type: ignore[union-attr]
        assert one.get(replied).last_error == "HTTP 500"  # type: ignore[union-attr]
        other.forget_delayed_notice([ids[2]])
        assert [i.id for i in one.hold_for_operator("waiting for the key")] == [ids[2]]
        assert one.waiting_count() == 4


def test_a_version_1_database_gains_the_superseded_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with outbox_at(url) as box:
        item_id = box.add("k", "thread", {"a": 1}).id
        with box.database.engine.begin() as conn:  # back to what version 1 built
            conn.exec_driver_sql("ALTER TABLE outbox_items DROP COLUMN superseded_by")
            conn.exec_driver_sql("UPDATE outbox_schema_version SET version = 1")
    with outbox_at(url) as box:
        assert box.database.schema_version == outbox_schema.SCHEMA_VERSION
        item = box.get(item_id)
        assert item is not None
        assert item.superseded_by is None
        assert item.status is Status.PENDING
        copy = box.add("edited", "thread", {}, supersedes=item_id)
        assert box.get(item_id).superseded_by == copy.id  # type: ignore[union-attr]


def test_every_schema_version_has_exactly_one_migration_step() -> None:
    import bot.tables  # noqa: F401 - every feature's schema registers its steps

    assert sorted(outbox_schema.MIGRATIONS) == list(range(2, outbox_schema.SCHEMA_VERSION + 1))
    with pytest.raises(RuntimeError, match="schema version 3 has two migration steps"):
        outbox_schema.register_migration(3, lambda conn: None)


def test_sqlite_checkpoints_off_the_commit_paths(tmp_path: Path) -> None:
    # No ack or claim pays for copying the log into the database: the running bot does it each tick.
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    with outbox_at(url) as box:
        with box.database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        for i in range(300):
            box.add(f"item-{i}", "thread", {"text": "x" * 2000})
        wal, main = tmp_path / "outbox.db-wal", tmp_path / "outbox.db"
        assert wal.stat().st_size > 1000 * 4096  # past where SQLite would have checkpointed itself
        before = main.stat().st_size
        box.database.checkpoint()
        assert main.stat().st_size > before + 300 * 2000  # the items are in the database file now
        assert box.counts()[Status.PENDING] == 300

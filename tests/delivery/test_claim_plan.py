"""The claim reads each kind of due item through an index of its own (SQLite and PostgreSQL), so that
its cost does not grow with the backlog: no statement it runs scans the items or sorts them. How fast
it is at 100,000 queued is bench/bench_claim.py's to measure, not a test's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.db import schema as db_schema
from bot.delivery.outbox import Outbox, in_order_key
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at


@pytest.fixture(params=BACKENDS)
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    with outbox_at(database_url(request.param, tmp_path)) as opened:
        yield opened


def backlog(outbox: Outbox) -> None:
    """Every kind of item the claim looks for: free ones, three in-order queues, replies still to
    post, an expired lease, and a delivered history."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    for index in range(60):
        ts = f"1764300000.{index:06d}"
        outbox.add(f"view:{index}", "create_thread", {"n": index}, now=past)
        outbox.add(in_order_key(f"automatic-C{index % 3}", ts), "create_thread", {"n": index}, now=past)
    claimed = outbox.claim("earlier", 6, 60, now=past)
    for number, item in enumerate(claimed):
        if number % 3 == 0:
            outbox.mark_delivered(item.id, "earlier", {"thread_id": f"th_{item.id}"}, now=past)
        elif number % 3 == 1:
            outbox.schedule_retry(item.id, "earlier", past, "slack 429", result={"thread_id": "t"}, now=past)
        # the rest stay claimed by "earlier", whose lease ran out long ago


def statements_of(outbox: Outbox, call: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    sa.event.listen(outbox.database.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(outbox.database.engine, "before_cursor_execute", record)
    return seen


def plan_of(outbox: Outbox, statement: str, parameters: Any) -> list[str]:
    with outbox.database.engine.connect() as conn:
        if outbox.database.dialect == "sqlite":
            explained = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return [str(row[3]) for row in explained]
        # A few rows make a sequential scan cheapest; what matters is that an index can serve.
        conn.exec_driver_sql("SET enable_seqscan = off")
        return [str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)]


@pytest.mark.parametrize("replies_only", [False, True])
def test_every_read_of_the_claim_goes_through_an_index(outbox: Outbox, replies_only: bool) -> None:
    backlog(outbox)
    claimed: list[Any] = []
    statements = statements_of(
        outbox, lambda: claimed.extend(outbox.claim("now", 5, 60, replies_only=replies_only))
    )
    assert claimed
    assert len(statements) >= 2
    for statement, parameters in statements:
        plan = plan_of(outbox, statement, parameters)
        if outbox.database.dialect == "sqlite":
            scans = [step for step in plan if step.startswith("SCAN") and step != "SCAN queues"]
            scans = [step for step in scans if step != "SCAN CONSTANT ROW"]
            assert scans == [], (statement, plan)
            assert not [step for step in plan if "TEMP B-TREE" in step], (statement, plan)
        else:
            assert not [step for step in plan if "Seq Scan on outbox_items" in step], (statement, plan)


def test_postgresql_plans_the_claim_without_jit_or_sequential_scans(tmp_path: Path) -> None:
    with outbox_at(database_url("postgresql", tmp_path)) as outbox:
        backlog(outbox)
        settings: list[tuple[str, Any]] = []

        def record(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            if (
                statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE"))
                and "set_config" not in statement
            ):
                # Straight on the driver: what the server plans this statement under.
                shown = conn.connection.driver_connection.execute(
                    "SELECT current_setting('jit'), current_setting('enable_seqscan')"
                ).fetchone()
                settings.append((statement, tuple(shown)))

        sa.event.listen(outbox.database.engine, "before_cursor_execute", record)
        try:
            assert outbox.claim("now", 5, 60)
        finally:
            sa.event.remove(outbox.database.engine, "before_cursor_execute", record)
        assert len(settings) >= 4
        assert [statement for statement, shown in settings if shown != ("off", "off")] == []
        with outbox.database.reading() as conn:  # only the claim's transaction
            assert conn.exec_driver_sql("SELECT current_setting('enable_seqscan')").scalar() == "on"


def test_the_claim_takes_the_oldest_due_of_every_kind(outbox: Outbox) -> None:
    backlog(outbox)
    # Free items, the heads of the queues and the replies, oldest due first; nothing behind a head.
    seen: list[str] = []
    while claimed := outbox.claim("now", 7, 60):
        for item in claimed:
            seen.append(item.dedupe_key)
            outbox.mark_delivered(item.id, "now", {"thread_id": f"th_{item.id}"})
    assert len(set(seen)) == len(seen) == 120 - 2  # two were delivered before
    for queue in ("automatic-C0", "automatic-C1", "automatic-C2"):
        mine = [key for key in seen if key.startswith(in_order_key(queue, "1764300000.000000")[:-17])]
        assert mine == sorted(mine)


def test_a_version_3_database_gains_each_in_order_items_queue(tmp_path: Path) -> None:
    url = database_url("sqlite", tmp_path)
    with outbox_at(url) as box:
        for ts in ("1764300000.000200", "1764300000.000100"):
            box.add(in_order_key("automatic-C1", ts), "create_thread", {"ts": ts})
        box.add("view:1", "create_thread", {"ts": "modal"})
        with box.database.engine.begin() as conn:  # back to what version 3 built
            for name in ("outbox_items_free", "outbox_items_waiting", "outbox_items_replies"):
                conn.exec_driver_sql(f"DROP INDEX {name}")
            conn.exec_driver_sql("ALTER TABLE outbox_items DROP COLUMN in_order_queue")
            conn.exec_driver_sql("UPDATE outbox_schema_version SET version = 3")
    with outbox_at(url) as box:
        assert box.database.schema_version == db_schema.SCHEMA_VERSION
        indexes = {index["name"] for index in sa.inspect(box.database.engine).get_indexes("outbox_items")}
        assert {"outbox_items_free", "outbox_items_waiting", "outbox_items_replies"} <= indexes
        assert sorted(item.payload["ts"] for item in box.claim("a", 10, 30)) == ["1764300000.000100", "modal"]
        with box.database.engine.begin() as conn:  # the step is idempotent
            db_schema.MIGRATIONS[4](conn)

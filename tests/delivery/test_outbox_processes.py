"""Two OS processes sharing one outbox database: claims, dedupe and the write limiter.

SQLite always runs (one file, two processes); PostgreSQL only when TEST_DATABASE_URL is set.
The workers are processes of their own (multiprocessing's forkserver start method: forked from a
server that has imported this module once, not from the test's process), so each opens its own
`Outbox`, as separate replicas do.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.budgets.write_limits import WriteLimits
from bot.delivery import Outbox, Status
from bot.tables import open_database
from tests.backends import BACKENDS
from tests.databases import ClosingOutbox, fresh_postgres, outbox_at
from tests.delivery.test_outbox import most_in_any_window

ITEMS = 300
DEDUPE_KEYS = 150
LIMIT_RATE = 1200  # per minute: one slot every 50 ms
LIMIT_BURST = 5
LIMIT_SECONDS = 1.5

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return fresh_postgres()


def _processes() -> Any:
    """A fresh process per worker, without the cost of a Python start and this module's imports
    for each (spawn): ~1 s of CPU each."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


# -- what each process does (module-level, so the fork server can import it) ---------------


def _claim_all(box: Outbox, owner: str) -> tuple[list[int], list[int]]:
    """Claim and deliver until nothing is pending; returns (claimed ids, ids it could not mark)."""
    claimed: list[int] = []
    refused: list[int] = []
    while True:
        batch = box.claim(owner, limit=3, lease_seconds=300)
        if not batch:
            if box.counts()[Status.PENDING] == 0:
                return claimed, refused
            continue
        for item in batch:
            claimed.append(item.id)
            if not (box.mark_attempt(item.id, owner) and box.mark_delivered(item.id, owner, {"by": owner})):
                refused.append(item.id)


def _hammer_limiter(box: Outbox, key: str) -> list[float]:
    granted: list[float] = []
    end = time.monotonic() + LIMIT_SECONDS
    while time.monotonic() < end:
        now = datetime.now(UTC)
        wait = WriteLimits(box.database).reserve_write_slot(key, LIMIT_RATE, LIMIT_BURST, now=now)
        if wait == 0.0:
            granted.append(now.timestamp())
        else:
            time.sleep(min(wait, 0.005))
    return granted


def _worker(url: str, owner: str, start: Any, out: str) -> None:
    box = outbox_at(url)
    try:
        start.wait(60)
        added = [box.add(f"dup-{i}", "thread", {"from": owner}) for i in range(DEDUPE_KEYS)]
        start.wait(60)
        claimed, refused = _claim_all(box, owner)
        start.wait(60)
        granted = _hammer_limiter(box, "productlane-key-1")
    finally:
        box.close()
    Path(out).write_text(
        json.dumps(
            {
                "created": [r.id for r in added if r.created],
                "seen": [r.id for r in added],
                "claimed": claimed,
                "refused": refused,
                "granted": granted,
            }
        )
    )


def test_two_processes_share_one_outbox(url: str, tmp_path: Path) -> None:
    with outbox_at(url) as box:
        for i in range(ITEMS):
            box.add(f"item-{i}", "thread", {"i": i})

    ctx = _processes()
    start = ctx.Barrier(2)
    outs = [tmp_path / f"worker-{n}.json" for n in range(2)]
    procs = [
        ctx.Process(target=_worker, args=(url, f"worker-{n}-{os.getpid()}", start, str(out)))
        for n, out in enumerate(outs)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(150)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0]
    results = [json.loads(out.read_text()) for out in outs]

    with outbox_at(url) as box:
        # The same submissions added by both at once: one item each, created once.
        created = Counter(i for r in results for i in r["created"])
        assert len(created) == DEDUPE_KEYS
        assert set(created.values()) == {1}
        assert results[0]["seen"] == results[1]["seen"]

        # Every item claimed by exactly one process, once, and delivered by it.
        claims = Counter(i for r in results for i in r["claimed"])
        assert [r["refused"] for r in results] == [[], []]
        assert set(claims.values()) == {1}
        assert len(claims) == ITEMS + DEDUPE_KEYS
        assert box.counts() == {
            Status.PENDING: 0,
            Status.SENDING: 0,
            Status.DELIVERED: ITEMS + DEDUPE_KEYS,
            Status.FAILED: 0,
            Status.SUPERSEDED: 0,
        }
        for n, r in enumerate(results):
            for item_id in r["claimed"][:20]:
                item = box.get(item_id)
                assert item is not None
                assert item.result == {"by": f"worker-{n}-{os.getpid()}"}
                assert item.attempts == 1

    # The limiter held across both processes, and let through about as much as it should.
    # Which process claimed or sent how much, and how many slots a process got in the time it had,
    # depend on how the machine shares its cores; that no window holds more than the limit does not.
    granted = sorted(t for r in results for t in r["granted"])
    assert granted, "the limiter granted nothing"
    interval = 60 / LIMIT_RATE
    for window in (0.0, 0.01, 0.2, 0.5, 1.0, LIMIT_SECONDS):
        assert most_in_any_window(granted, window) <= LIMIT_BURST + window / interval + 1e-9


def _open_and_add(url: str, name: str, start: Any) -> None:
    start.wait(60)
    # The bot's own open, which creates the tables (not outbox_at's copy of a made database): what
    # two replicas starting together do.
    with ClosingOutbox(open_database(url)) as box:
        box.add(f"first-start-{name}", "thread", {})
        box.add("first-start-shared", "thread", {})


def test_two_processes_start_on_a_fresh_database_at_once(url: str) -> None:
    """Replicas starting together both create (or find) the schema without tripping."""
    ctx = _processes()
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_open_and_add, args=(url, str(n), start)) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0]
    with outbox_at(url) as box:
        assert box.counts()[Status.PENDING] == 3

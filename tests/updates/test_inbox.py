"""Group commit: events arriving together are stored together, each answered for itself."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.updates.inbox import GroupCommit
from bot.updates.store import NewEvent, UpdatesStore
from tests.databases import outbox_at
from tests.updates.conftest import Clock

pytestmark = pytest.mark.timeout(30)


def test_concurrent_deliveries_store_each_event_once(url: str, clock: Clock) -> None:
    outbox = outbox_at(url)
    store = UpdatesStore(outbox.database, clock=clock)
    batches: list[int] = []

    def write(new: Sequence[NewEvent]) -> list[bool]:
        batches.append(len(new))
        return store.add_events(new)

    inbox = GroupCommit(write)
    ids = [f"evt_{i % 40}" for i in range(120)]  # every event three times
    with ThreadPoolExecutor(30) as pool:
        created = list(
            pool.map(lambda event_id: inbox.add(event_id, "thread.updated", {"id": event_id}), ids)
        )
    assert sum(created) == 40
    assert {event_id for event_id, new in zip(ids, created, strict=True) if new} == {
        f"evt_{i}" for i in range(40)
    }
    assert store.counts() == {"events.pending": 40}
    assert sum(batches) == 120
    outbox.close()


def test_duplicates_within_one_batch_count_once(tmp_path: Path, clock: Clock) -> None:
    outbox = outbox_at(f"sqlite:///{tmp_path / 'o.db'}")
    store = UpdatesStore(outbox.database, clock=clock)
    assert store.add_events([]) == []
    new = [NewEvent("evt_a", "t", {}), NewEvent("evt_b", "t", {}), NewEvent("evt_a", "t", {})]
    assert store.add_events(new) == [True, True, False]
    assert store.add_events(new[:1]) == [False]
    outbox.close()


def test_a_failed_write_reaches_every_waiter() -> None:
    release = threading.Event()

    def write(new: Sequence[NewEvent]) -> list[bool]:
        release.wait(5)
        raise OSError("disk full")

    inbox = GroupCommit(write)
    errors: list[BaseException] = []

    def add(event_id: str) -> None:
        try:
            inbox.add(event_id, "t", {})
        except OSError as error:
            errors.append(error)

    workers = [threading.Thread(target=add, args=(f"evt_{i}",)) for i in range(5)]
    for worker in workers:
        worker.start()
    release.set()
    for worker in workers:
        worker.join()
    assert [str(e) for e in errors] == ["disk full"] * 5
    # The committer survives its failures.
    inbox._write = lambda new: [True] * len(new)
    assert inbox.add("evt_next", "t", {})


def test_a_write_that_never_ends_times_out() -> None:
    stuck = threading.Event()
    inbox = GroupCommit(lambda new: [bool(stuck.wait(5))] * len(new), timeout=0.2)
    with pytest.raises(TimeoutError):
        inbox.add("evt_1", "t", {})
    stuck.set()

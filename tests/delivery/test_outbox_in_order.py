"""The outbox's in-order queues (SQLite and PostgreSQL): an item waits until every earlier item of its
queue has its thread, so a channel's captured messages are sent in the order they were posted, whatever
order they were added in and however many senders claim them; an item may also be due a little later,
and one that must not be sent after all is discarded by its lease owner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.outbox import Outbox, in_order_key
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at


@pytest.fixture(params=BACKENDS)
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    with outbox_at(database_url(request.param, tmp_path)) as opened:
        yield opened


def test_an_in_order_item_waits_until_every_earlier_one_of_its_queue_has_its_thread(outbox: Outbox) -> None:
    added = {}
    for ts in ("1764300000.000300", "1764300000.000100", "1764300000.000200"):
        added[ts] = outbox.add(in_order_key("automatic-C1", ts), "create_thread", {"ts": ts}).id
    outbox.add(in_order_key("automatic-C12", "1764300000.000900"), "create_thread", {"ts": "other"})
    outbox.add("view:1", "create_thread", {"ts": "modal"})

    first = outbox.claim("a", 10, 30)
    # One per queue, the earliest; items not in order are not held.
    assert sorted(item.payload["ts"] for item in first) == ["1764300000.000100", "modal", "other"]
    assert outbox.claim("b", 10, 30) == []
    head = next(item for item in first if item.payload["ts"] == "1764300000.000100")
    outbox.record_thread(head.id, "a", {"thread_id": "thr_1"})
    second = outbox.claim("b", 10, 30)
    assert [item.payload["ts"] for item in second] == ["1764300000.000200"]
    # A failure of the head holds the rest back while it is retried.
    outbox.schedule_retry(second[0].id, "b", datetime.now(UTC) - timedelta(seconds=1), "503")
    assert [item.payload["ts"] for item in outbox.claim("c", 10, 30)] == ["1764300000.000200"]
    assert outbox.claim("d", 10, 30) == []


def test_many_claimers_at_once_still_take_a_queue_one_by_one_in_order(outbox: Outbox) -> None:
    stamps = [f"1764300000.{index:06d}" for index in range(1, 31)]
    for ts in reversed(stamps):
        outbox.add(in_order_key("automatic-C1", ts), "create_thread", {"ts": ts})
    order: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        try:
            idle = 0
            # Until the queue is done (or looks stuck): claims once every item is taken would
            # only spin; the claim after the threads below says none is taken twice.
            while idle < 50 and len(order) < len(stamps):
                items = outbox.claim(name, 1, 30)
                if not items:
                    idle += 1
                    continue
                idle = 0
                with lock:
                    order.append(items[0].payload["ts"])
                outbox.record_thread(items[0].id, name, {"thread_id": items[0].payload["ts"]})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(f"w{index}",)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert order == stamps
    assert outbox.claim("w-after", 1, 30) == []


def test_an_in_order_key_has_a_fixed_width_position() -> None:
    assert in_order_key("automatic-C1", "1764300000.000100") == "in-order:automatic-C1:1764300000.000100"
    with pytest.raises(ValueError, match="position"):
        in_order_key("automatic-C1", "17643.1")


def test_an_item_due_later_is_not_claimed_before_then(outbox: Outbox) -> None:
    now = datetime.now(UTC)
    outbox.add("later", "create_thread", {"x": 1}, due_in=timedelta(seconds=2), now=now)
    assert outbox.claim("a", 10, 30, now=now + timedelta(seconds=1)) == []
    assert [item.dedupe_key for item in outbox.claim("a", 10, 30, now=now + timedelta(seconds=2))] == [
        "later"
    ]


def test_only_the_lease_owner_discards_an_item(outbox: Outbox) -> None:
    outbox.add("gone", "create_thread", {"x": 1})
    claimed = outbox.claim("a", 1, 30)[0]
    assert not outbox.discard(claimed.id, "b")
    assert outbox.discard(claimed.id, "a")
    assert outbox.get(claimed.id) is None

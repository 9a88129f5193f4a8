"""The delivery worker's claim (`Outbox.claim`) with a short queue and a long one.

    uv run python -m bench.bench_claim [--queued 100 100000] [--claims 500] [--automatic-share 0.3]
                                       [--put-back] [--database-url postgresql+psycopg://…]

A flood leaves a backlog, and every delivery pass claims the next due item from it: on SQLite that
claim runs holding the write lock every ack waits for. The outbox is filled before each run with
``--queued`` waiting items as the bot stores them: whole submissions (the message shortcut's
customer message, its source and form: a few KiB of JSON) from 1,000 people, with
``--automatic-share`` of them captured automatically in 10 channels (their keys sent in order within
each channel), beside 20,000 delivered items (the history a bot keeps for its retention period,
automatic channels' earlier messages among them). Then ``--claims`` claims of one item, as the
worker makes them; each claimed item is delivered and a new submission arrives, so the backlog keeps
its size while its front moves on, as in a flood the worker keeps up with. ``--put-back`` instead puts
each item back due at its old time (what the bench did first): the same item is claimed again and
again, every claim leaving dead row versions at the front of the claim's indexes.

Printed: claim p50/p99/max in ms for each backlog size and the p99 ratio of the largest to the
smallest (the goal: ≤ 2). SQLite in a temporary file; PostgreSQL too when ``--database-url`` or
``TEST_DATABASE_URL`` names one (its tables are dropped and created again).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.bench_ack import customer_message
from bot.db import metadata
from bot.delivery.claiming import queue_of
from bot.delivery.item import in_order_key
from bot.delivery.outbox import EncodedJson, Outbox
from bot.delivery.schema import items
from bot.feedback.form import FeedbackForm
from bot.feedback.source import source_from_message_shortcut
from bot.feedback.submission import Submission
from bot.slack.ids import MESSAGE_SHORTCUT
from tests.databases import outbox_at
from tests.fakes.slack import FakeSlack

BATCH = 2000
HISTORY = 20_000
PEOPLE = 1000
AUTOMATIC_CHANNELS = 10


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def template() -> dict[str, Any]:
    with FakeSlack() as slack:  # only for the payload Slack sends
        shortcut = slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=customer_message(slack, 0, 4))
    return Submission(
        key="view:0",
        submitter_id="U0P0000000",
        form=FeedbackForm(title="Export to CSV times out", contact_email="jane@customer.example"),
        source=source_from_message_shortcut(shortcut),
        submitted_at=datetime.now(UTC),
    ).model_dump(mode="json")


def submission(
    index: int, rng: random.Random, automatic_share: float, base: dict[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    """The ``index``-th submission as the bot stores it: its key, its submitter and its payload."""
    ts = f"{1764000000 + index}.000100"
    who = f"U0P{index % PEOPLE:07d}"
    payload = dict(base)
    payload["submitter_id"] = who
    payload["form"] = {**base["form"], "title": f"Export to CSV times out ({index})"}
    if rng.random() < automatic_share:
        channel = f"C0AUTO{index % AUTOMATIC_CHANNELS:04d}"
        key = in_order_key(f"automatic-{channel}", ts)
        payload["source"] = {**base["source"], "channel_id": channel, "ts": ts}
    else:
        key = f"V{index:09d}:{index * 7919 % 100000:05d}"
        payload["source"] = {**base["source"], "ts": ts}
    payload["key"] = key
    return key, who, payload


def fill(outbox: Outbox, queued: int, automatic_share: float, base: dict[str, Any]) -> int:
    """``HISTORY`` delivered items, then ``queued`` pending ones, oldest first; returns the next index."""
    rng = random.Random(queued)
    now = datetime.now(UTC)
    total = HISTORY + queued
    with outbox.database.writing() as conn:
        conn.execute(sa.delete(items))
    for first in range(0, total, BATCH):
        rows: list[dict[str, Any]] = []
        for index in range(first, min(total, first + BATCH)):
            at = now - timedelta(seconds=total - index)
            key, who, payload = submission(index, rng, automatic_share, base)
            delivered = index < HISTORY
            rows.append(
                {
                    "dedupe_key": key,
                    "kind": "create_thread",
                    "payload": EncodedJson(json.dumps(payload)),
                    "status": "delivered" if delivered else "pending",
                    "attempts": 1 if delivered else 0,
                    "created_at": at,
                    "updated_at": at,
                    "next_attempt_at": at,
                    "result": {"thread_id": f"th_{index}", "url": f"https://pl.test/{index}"}
                    if delivered
                    else None,
                    "delayed_notice_sent": False,
                    "submitter_id": who,
                    # As `Outbox.add` sets it: without it no item waits in an in-order queue.
                    "in_order_queue": queue_of(key),
                }
            )
        with outbox.database.writing() as conn:
            conn.execute(sa.insert(items), rows)
    if outbox.database.dialect == "postgresql":
        with outbox.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE outbox_items")
    return total


class Arrivals:
    """New submissions, one for each item delivered, so the backlog keeps its size."""

    def __init__(self, outbox: Outbox, first: int, automatic_share: float, base: dict[str, Any]) -> None:
        self.outbox, self.next, self.automatic_share, self.base = outbox, first, automatic_share, base
        self.rng = random.Random(first)

    def add(self) -> None:
        key, who, payload = submission(self.next, self.rng, self.automatic_share, self.base)
        self.next += 1
        self.outbox.add(key, "create_thread", EncodedJson(json.dumps(payload)), submitter_id=who)


def claims(outbox: Outbox, count: int, arrivals: Arrivals | None) -> list[float]:
    """``count`` claims of one item: ms each. Each claimed item is delivered and a new submission
    arrives (``arrivals``), as in a flood the worker keeps up with; without ``arrivals`` it is put
    back due at its old time, the same item claimed again and again."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        claimed = outbox.claim("bench-claimer", limit=1, lease_seconds=60)
        timings.append((time.perf_counter() - started) * 1000)
        assert len(claimed) == 1, "the backlog ran dry"
        item = claimed[0]
        if arrivals is None:
            outbox.schedule_retry(item.id, "bench-claimer", item.next_attempt_at, "bench")
        else:
            outbox.mark_delivered(item.id, "bench-claimer", {"thread_id": f"th_{item.id}"})
            arrivals.add()
    return timings


def run(url: str, sizes: list[int], count: int, automatic_share: float, put_back: bool) -> None:
    name = url.split(":")[0].split("+")[0]
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        metadata.drop_all(engine)
        engine.dispose()
    base = template()
    p99s = {}
    with outbox_at(url) as outbox:
        for queued in sizes:
            began = time.monotonic()
            first = fill(outbox, queued, automatic_share, base)
            filled = time.monotonic() - began
            arrivals = None if put_back else Arrivals(outbox, first, automatic_share, base)
            claims(outbox, min(20, count), arrivals)  # warm the caches and the statement cache
            timings = claims(outbox, count, arrivals)
            p99s[queued] = percentile(timings, 0.99)
            print(
                f"{name:<10} {queued:>7,} queued (filled in {filled:5.1f} s)  claim n={len(timings)}"
                f"  p50={statistics.median(timings):6.2f} ms  p99={p99s[queued]:6.2f} ms"
                f"  max={max(timings):6.2f} ms"
            )
    smallest, largest = min(sizes), max(sizes)
    print(
        json.dumps(
            {
                "database": name,
                "p99_ratio": round(p99s[largest] / p99s[smallest], 2),
                "goal_ratio": 2,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queued", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--claims", type=int, default=500)
    parser.add_argument("--automatic-share", type=float, default=0.3)
    parser.add_argument(
        "--put-back",
        action="store_true",
        help="put each claimed item back due at its old time instead of delivering it",
    )
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    sqlite_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-claim-')) / 'outbox.db'}"
    run(sqlite_url, args.queued, args.claims, args.automatic_share, args.put_back)
    if args.database_url:
        run(args.database_url, args.queued, args.claims, args.automatic_share, args.put_back)


if __name__ == "__main__":
    main()

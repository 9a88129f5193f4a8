"""The duplicate guard's lookup (`find_sent`, run before every message-shortcut modal opens) at scale.

    uv run python -m bench.bench_duplicate_guard [--rows 1000000] [--lookups 2000] [--database-url URL]

Fills an outbox with `--rows` delivered submissions (each with its `sent_messages` record, as the
worker leaves them) and times `find_sent` for messages that were sent and messages that were not.
SQLite in a temporary file by default; pass a PostgreSQL URL to measure that instead (its tables are
dropped and created again).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.db import metadata
from bot.delivery.outbox import Outbox
from bot.delivery.schema import items, sent_messages
from bot.delivery.sent import find_sent
from tests.databases import outbox_at

BATCH = 20_000


def channel_and_ts(index: int) -> tuple[str, str]:
    return f"C{index % 500:08d}", f"{1_700_000_000 + index}.{index % 1_000_000:06d}"


def fill(outbox: Outbox, rows: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, rows, BATCH):
        item_rows, sent_rows = [], []
        for index in range(first, min(rows, first + BATCH)):
            channel, ts = channel_and_ts(index)
            at = start + timedelta(seconds=index)
            payload = {
                "submitter_id": "U0CSM0002",
                "source": {"channel_id": channel, "ts": ts, "content": {"text": f"message {index}"}},
            }
            result = {"thread_id": f"th_{index}", "url": f"https://productlane.com/feedback/th_{index}"}
            item_rows.append(
                {
                    "dedupe_key": f"V{index}:h",
                    "kind": "create_thread",
                    "payload": payload,
                    "status": "delivered",
                    "attempts": 1,
                    "created_at": at,
                    "updated_at": at,
                    "next_attempt_at": at,
                    "result": result,
                    "delayed_notice_sent": False,
                }
            )
            sent_rows.append(
                {
                    "channel_id": channel,
                    "ts": ts,
                    "thread_id": result["thread_id"],
                    "thread_url": result["url"],
                    "submitter_id": "U0CSM0002",
                    "delivered_at": at,
                }
            )
        with outbox.database.writing() as connection:
            connection.execute(sa.insert(items), item_rows)
            connection.execute(sa.insert(sent_messages), sent_rows)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-guard-')) / 'outbox.db'}"
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        metadata.drop_all(engine)
        engine.dispose()
    with outbox_at(url) as outbox:
        began = time.monotonic()
        fill(outbox, args.rows)
        print(
            f"filled {args.rows:,} delivered items in {time.monotonic() - began:.1f} s ({url.split(':')[0]})"
        )
        rng = random.Random(7)
        timings: dict[str, list[float]] = {"sent before": [], "never sent": []}
        for _ in range(args.lookups):
            channel, ts = channel_and_ts(rng.randrange(args.rows))
            started = time.perf_counter()
            assert find_sent(outbox.database, channel, ts) is not None
            timings["sent before"].append((time.perf_counter() - started) * 1000)
            channel, ts = channel_and_ts(args.rows + rng.randrange(args.rows))
            started = time.perf_counter()
            assert find_sent(outbox.database, channel, ts) is None
            timings["never sent"].append((time.perf_counter() - started) * 1000)
        for name, values in timings.items():
            print(
                f"find_sent, {name:<12} n={len(values)}  median {statistics.median(values):.3f} ms  "
                f"p99 {percentile(values, 0.99):.3f} ms  max {max(values):.3f} ms"
            )
        print(
            json.dumps({"goal_ms": 5, "p99_ms": round(max(percentile(v, 0.99) for v in timings.values()), 3)})
        )


if __name__ == "__main__":
    main()

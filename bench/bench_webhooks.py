"""Productlane webhooks under load, through the running bot: time to the 2xx, time until every
effect is in Slack, and Slack's ack latency beside them.

    uv run python -m bench.bench_webhooks [--threads 250] [--concurrency 50] [--acks 100]

The bot runs as users run it (`productlane-slack`, socket mode, `PRODUCTLANE_WEBHOOK_SECRET` set,
webhooks on `PORT`) against the loopback fakes. It remembers ``--threads`` threads it created
(written into its database before it starts: creating them one a second through Productlane's write
limit would take minutes and measure nothing here). Each thread gets two status events (snoozed,
then done), each delivered twice (the duplicates Productlane's retries produce): 4 × threads signed
deliveries, 1,000 by default, all at once in random order from ``--concurrency`` client threads in a
process of their own, as Productlane's senders are.

Meanwhile the bench submits feedback modals (message shortcut, the whole view in each submission,
as bench_ack sends them), one every 20 ms, and times each ack: ``--acks`` before the load (idle)
and ``--acks`` during it.

Printed: p50/p99/max time to the 2xx; the time until every event is applied and every ✅ reply is
in Slack; the Slack calls made (one ✅ per thread expected); ack latency idle and under load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import signal
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.bench_ack import (
    ENTRY_POINT,
    bot_environment,
    free_port,
    open_views,
    start,
    submissions,
    wait_until,
)
from bot.updates.store import UpdatesStore
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_webhooks import post, signed_headers
from tests.fakes.slack import FakeSlack
from tests.updates.helpers import record
from tests.updates.rig import SECRET


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def send_all(
    url: str, deliveries: list[tuple[bytes, str, str]], concurrency: int
) -> tuple[list[float], list[int | None]]:
    """POST every delivery, ``concurrency`` at a time; (time to each answer, each status)."""
    latencies: list[float] = []
    statuses: list[int | None] = []
    lock = threading.Lock()

    def deliver(item: tuple[bytes, str, str]) -> None:
        body, event_id, event_type = item
        headers = signed_headers(body, SECRET, event_type=event_type, event_id=event_id)
        started = time.perf_counter()
        status, _ = post(url, body, headers, timeout=30)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses.append(status)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(deliver, deliveries))
    return latencies, statuses


def ack_latencies(slack: FakeSlack, payloads: list[dict[str, Any]], every: float = 0.02) -> list[float]:
    """Send each submission `every` seconds (not waiting for the ack), then the ack latencies."""
    envelopes = []
    for payload in payloads:
        envelopes.append(slack.socket.send_envelope("interactive", payload))
        time.sleep(every)
    for envelope in envelopes:
        slack.socket.wait_ack(envelope, timeout=30)
    return [slack.socket.ack_latency(envelope) for envelope in envelopes]


Delivery = tuple[bytes, str, str]  # body, event id, event type


def remember_threads(database_url: str, productlane: FakeProductlane, count: int) -> list[Delivery]:
    """Threads the bot created (in its database and in Productlane); their signed deliveries."""
    deliveries: list[Delivery] = []
    with outbox_at(database_url) as outbox:
        store = UpdatesStore(outbox.database)
        for index in range(count):
            created = productlane.seed_thread({"text": "<p>x</p>", "contact_email": "x@example.com"})
            store.remember(
                record(
                    created["id"],
                    thread_ts=f"1700000000.{index:06d}",
                    reply_ts=f"1700000001.{index:06d}",
                    status_as_of=datetime.fromisoformat(created["updated_at"]),
                ),
                poll_after=60.0,
            )
            for status in ("snoozed", "done"):
                snapshot = productlane.set_thread_status(created["id"], status, emit=False)
                event_id = f"evt_{index}_{status}"
                body = json.dumps(
                    {"id": event_id, "type": "thread.status_changed", "created_at": None, "data": snapshot},
                    separators=(",", ":"),
                ).encode()
                deliveries += [(body, event_id, "thread.status_changed")] * 2
    random.shuffle(deliveries)
    return deliveries


def summary(values: list[float]) -> str:
    return f"p50 {ms(statistics.median(values))}, p99 {ms(percentile(values, 0.99))}, max {ms(max(values))}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--acks", type=int, default=100, help="submissions timed idle, and again under load")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    database_url = f"sqlite:///{home / 'outbox.db'}"

    with FakeSlack() as slack, FakeProductlane() as productlane:
        deliveries = remember_threads(database_url, productlane, args.threads)
        port = free_port()
        env = bot_environment(
            slack,
            productlane,
            database_url,
            PRODUCTLANE_WEBHOOK_SECRET=SECRET,
            PORT=str(port),
        )
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            url = f"http://127.0.0.1:{port}/productlane/webhooks"
            wait_until(lambda: post(url, b"{}", {})[0] == 401, 30, "the webhook route")
            payloads = submissions(slack, open_views(slack, 2 * args.acks, paragraphs=4))
            idle = ack_latencies(slack, payloads[: args.acks])

            started = time.perf_counter()
            # The senders run in a process of their own, as Productlane's do: their threads do not
            # compete with this process's (which times the acks) for one interpreter.
            with multiprocessing.get_context("spawn").Pool(1) as senders:
                sending = senders.apply_async(send_all, (url, deliveries, args.concurrency))
                loaded = ack_latencies(slack, payloads[args.acks :])
                latencies, statuses = sending.get(timeout=600)
            answered = time.perf_counter() - started

            def done_replies() -> int:
                return sum(
                    "Marked done" in str(c.params.get("text")) for c in slack.web.calls("chat.postMessage")
                )

            wait_until(lambda: done_replies() >= args.threads, 600, "every done reply")
            applied = time.perf_counter() - started
            time.sleep(2)  # anything more would be a duplicate
            done, edits = done_replies(), len(slack.web.calls("chat.update"))
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

    print(
        f"{len(deliveries)} signed deliveries ({len(deliveries) // 2} events), {args.concurrency} at a time,"
    )
    print(f"  to the running bot (socket mode, webhooks on PORT, SQLite); {args.threads} threads it created")
    print(f"  answers: {dict(sorted((str(s), statuses.count(s)) for s in set(statuses)))}")
    print(f"  time to the 2xx: {summary(latencies)}; all answered in {answered:.2f} s")
    print(f"  every event applied and every ✅ reply in Slack: {applied:.2f} s after the first delivery")
    print(f"  Slack: {done} ✅ replies (expected {args.threads}), {edits} chat.update")
    print(f"  Slack acks (message-shortcut submissions, one every 20 ms), idle:       {summary(idle)}")
    print(f"  Slack acks, during the webhook load:                                  {summary(loaded)}")


if __name__ == "__main__":
    main()

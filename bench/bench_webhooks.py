"""Productlane webhooks under load, in one process: time to the 2xx, time until applied, and the
ack path's database write beside them.

    uv run python -m bench.bench_webhooks [--threads 250] [--concurrency 50] [--database URL]

Each of ``--threads`` threads the bot created gets two status events (snoozed, then done): that
is 2 × threads distinct events, each delivered twice (the duplicates Productlane's retries
produce), all at once in random order from ``--concurrency`` client threads — 1,000 signed
deliveries by default. They go through a stdlib loopback server around ``receive_webhook`` (the
production server in bot/web/ mounts the same function; rerun this through it as an end-to-end
bench once merged) and the updates worker applies them against the fake Slack.

Printed: p50/p99/max time to the 2xx; the time until every event is applied and every Slack
effect sent; the Slack calls made (one ✅ per thread expected); and the latency of
``Outbox.add`` — the write on Slack's ack path — idle and during the load, as a stand-in for ack
latency (the real ack bench is bench_ack, through the running process).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from slack_sdk import WebClient

from bot.delivery.outbox import Outbox
from bot.productlane import ProductlaneClient
from bot.updates import build_updates
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_webhooks import post, signed_headers
from tests.fakes.slack import FakeSlackWebAPI
from tests.updates.endpoint import WebhookEndpoint
from tests.updates.helpers import record
from tests.updates.rig import SECRET, settings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class AckProbe:
    """Writes an outbox item every ``every`` seconds, timing each write (Slack's ack path)."""

    def __init__(self, outbox: Outbox, every: float = 0.01) -> None:
        self._outbox = outbox
        self._every = every
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self._count = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._count += 1
            started = time.perf_counter()
            self._outbox.add(f"probe-{self._count}-{random.random()}", "probe", {"n": self._count})
            self.latencies.append(time.perf_counter() - started)

    def __enter__(self) -> AckProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database", default="", help="a database URL (default: a new SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeProductlane() as productlane, FakeSlackWebAPI() as slack:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        outbox = Outbox(url)
        client = ProductlaneClient(productlane.api_key, productlane.url)
        web = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
        updates = build_updates(settings(), outbox, web, client)

        deliveries: list[tuple[bytes, str, str]] = []
        for index in range(args.threads):
            created = productlane.seed_thread({"text": "<p>x</p>", "contact_email": "x@example.com"})
            updates.remember_thread(
                record(
                    created["id"],
                    thread_ts=f"1700000000.{index:06d}",
                    reply_ts=f"1700000001.{index:06d}",
                    status_as_of=datetime.fromisoformat(created["updated_at"]),
                )
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

        with WebhookEndpoint(updates.receive_webhook) as endpoint:
            with AckProbe(outbox) as idle:
                time.sleep(2)
            updates.start()
            with AckProbe(outbox) as loaded:
                started = time.perf_counter()
                # The senders run in a process of their own, as Productlane does: their threads
                # do not compete with the bot's for this process's interpreter.
                with multiprocessing.get_context("spawn").Pool(1) as senders:
                    latencies, statuses = senders.apply(
                        send_all, (endpoint.url, deliveries, args.concurrency)
                    )
                answered = time.perf_counter() - started
                busy = ("events.pending", "events.applying", "effects.pending", "effects.sending")
                while any(updates.store.counts().get(name) for name in busy):
                    time.sleep(0.01)
                applied = time.perf_counter() - started
            updates.stop()

        posts = slack.calls("chat.postMessage")
        edits = slack.calls("chat.update")
        backend = url.split(":")[0]
        events = len(deliveries) // 2
        print(
            f"{len(deliveries)} signed deliveries ({events} events), {args.concurrency} at a time, {backend}"
        )
        print(f"  answers: {dict(sorted((str(s), statuses.count(s)) for s in set(statuses)))}")
        p50, p99 = ms(statistics.median(latencies)), ms(percentile(latencies, 0.99))
        print(f"  time to the 2xx: p50 {p50}, p99 {p99}, max {ms(max(latencies))}; all in {answered:.2f} s")
        print(f"  every event applied and every Slack effect sent: {applied:.2f} s after the first delivery")
        print(f"  Slack: {len(posts)} chat.postMessage (expected {args.threads}), {len(edits)} chat.update")
        print(f"  events: {updates.store.counts()}")
        for name, probe in (("idle", idle), ("under load", loaded)):
            values = probe.latencies
            print(
                f"  Outbox.add (the ack path's write) {name}: p50 {ms(statistics.median(values))},"
                f" p99 {ms(percentile(values, 0.99))}, max {ms(max(values))} ({len(values)} writes)"
            )
        client.close()
        outbox.close()


if __name__ == "__main__":
    main()

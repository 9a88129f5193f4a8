"""Automatic capture under a burst: 300 top-level messages posted in one minute in a channel set to
capture automatically, through the real bot process, against a Productlane that enforces its limits.

    uv run python -m bench.bench_automatic [--messages 300] [--seconds 60] [--retries 0.1]
                                           [--productlane-delay 0.2] [--database-url URL]

Each message is a person's new top-level message as Slack sends it (text and rich_text blocks), posted
at an even pace over `--seconds`. Slack's delivery is imitated: a share (`--retries`) of the events is
delivered a second time, and neighbouring events now and then arrive swapped (Slack does not promise
order, and the bot acks on several threads). The fake Productlane enforces 60 writes a minute (at most
20 in any 10 s) and answers 429 + Retry-After past them, and takes `--productlane-delay` s per write.
Beside the burst, a message shortcut is pressed every 2 s: its ack (and the message events' acks) show
whether the burst slows what people do.

Printed: how many were filed and how many twice, whether the threads were created in the order the
messages were posted, the 429s, the drain time against the floor the write limit allows, the most
writes in any 60 s and 10 s, and the acks.
"""

from __future__ import annotations

import argparse
import itertools
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bench_ack import bot_environment
from bot.channels.store import ChannelSettingsStore
from bot.slack.ids import MESSAGE_SHORTCUT
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
CHANNEL = "C0FEEDBACK"
WRITES_PER_MINUTE = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def most_in_window(times: Sequence[float], window: float) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def message_payload(slack: FakeSlack, index: int, ts: str) -> dict[str, Any]:
    text = f"Burst {index:04d}: exports of the EU workspace time out after 30 s since this morning"
    blocks = [
        {
            "type": "rich_text",
            "block_id": f"b{index}",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]
    return slack.message_event_payload(
        "top_level_by_person",
        channel=CHANNEL,
        user="U0CUST0003",
        team="T0ACME0001",
        ts=ts,
        event_ts=ts,
        text=text,
        blocks=blocks,
        client_msg_id=f"3f1c0b8e-0000-4000-8000-{index:012d}",
    )


def delivery_order(count: int, retries: float, rng: random.Random) -> list[int]:
    """Message indexes in the order Slack delivers them: neighbours now and then swapped, some twice."""
    order = list(range(count))
    for index in range(count - 1):
        if rng.random() < 0.2:
            order[index], order[index + 1] = order[index + 1], order[index]
    again = [index for index in range(count) if rng.random() < retries]
    for index in again:
        order.insert(min(len(order), order.index(index) + rng.randint(1, 5)), index)
    return order


def inversions(sequence: Sequence[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(sequence) if a > b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0, help="the messages are posted over this long")
    parser.add_argument("--retries", type=float, default=0.1, help="share of events Slack delivers twice")
    parser.add_argument("--productlane-delay", type=float, default=0.2, help="seconds per write answer")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-automatic-"))
    database_url = args.database_url or f"sqlite:///{home / 'outbox.db'}"
    rng = random.Random(14)

    with outbox_at(database_url) as outbox:  # the channel captures automatically before the bot starts
        ChannelSettingsStore(outbox.database).apply([(CHANNEL, {"capture": "automatic"})], by="bench")

    with FakeSlack() as slack, FakeProductlane(enforce_rate_limit=True) as pl:
        pl.delay(args.productlane_delay, method="POST")
        env = bot_environment(
            slack,
            pl,
            database_url,
            # The burst measures the write pace and the order, not the flood limits it would go over.
            AUTOMATIC_PER_AUTHOR_HOUR="0",
            AUTOMATIC_PER_CHANNEL_HOUR="0",
        )
        with (home / "bot.log").open("wb") as log:
            bot = subprocess.Popen(
                [str(ENTRY_POINT)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT
            )
        shortcut_acks: list[float] = []
        stop_pressing = threading.Event()

        def press_shortcuts() -> None:
            while not stop_pressing.wait(2.0):
                envelope = slack.socket.send_envelope(
                    "interactive", slack.message_shortcut_payload(MESSAGE_SHORTCUT)
                )
                slack.socket.wait_ack(envelope, timeout=10)
                shortcut_acks.append(slack.socket.ack_latency(envelope) * 1000)

        try:
            slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            stamps = [f"{1764400000 + index}.000100" for index in range(args.messages)]
            payloads = [message_payload(slack, index, ts) for index, ts in enumerate(stamps)]
            order = delivery_order(args.messages, args.retries, rng)
            presser = threading.Thread(target=press_shortcuts, daemon=True)
            presser.start()
            started_wall, started = time.time(), time.monotonic()
            envelopes = []
            gap = args.seconds / max(1, len(order))
            for position, index in enumerate(order):
                due = started + position * gap
                time.sleep(max(0.0, due - time.monotonic()))
                envelopes.append(slack.socket.send_envelope("events_api", payloads[index]))
            posted = time.monotonic() - started
            for envelope in envelopes:
                slack.socket.wait_ack(envelope, timeout=30)
            event_acks = [slack.socket.ack_latency(envelope) * 1000 for envelope in envelopes]
            wait_until(lambda: pl.created_count >= args.messages, 3600, "every message to be filed")
            drained = time.monotonic() - started
            time.sleep(3.0)  # anything that would file a message twice has had time to
            stop_pressing.set()
            presser.join(timeout=15)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

        threads = pl.threads
        writes = [r.time for r in pl.requests if r.method in ("POST", "PATCH") and r.status in (200, 201)]
        first_write = min(writes) - started_wall if writes else 0.0

    filed = [int(thread["title"].split(":")[0].removeprefix("Burst ")) for thread in threads]
    distinct = len(set(filed))
    floor = (len(filed) - 1) * 60 / WRITES_PER_MINUTE
    lines = [
        f"{args.messages} top-level messages posted over {posted:.0f} s in one automatic channel "
        f"({len(order)} deliveries: {len(order) - args.messages} repeated, neighbours swapped now and "
        "then); "
        f"Productlane answers each write in {args.productlane_delay} s",
        f"filed: {distinct} of {args.messages} messages, {len(filed) - distinct} filed twice",
        f"order kept: {'yes' if filed == sorted(filed) else 'no'} "
        f"({inversions(filed)} inversions in creation order)",
        f"429 answers from Productlane: {pl.rate_limited_count}",
        f"drained in {drained:.1f} s from the first post (first write {first_write:.1f} s in); the write "
        f"limit allows no less than {floor:.1f} s for {len(filed)} writes at {WRITES_PER_MINUTE}/min",
        f"most writes in any 60 s: {most_in_window(writes, 60)} (limit {WRITES_PER_MINUTE}); in any 10 s: "
        f"{most_in_window(writes, 10)} (limit 20)",
        f"message event acks: p50 {statistics.median(event_acks):.1f} ms, "
        f"p99 {percentile(event_acks, 0.99):.1f} ms, max {max(event_acks):.1f} ms",
        (
            f"shortcut acks beside the burst ({len(shortcut_acks)}): "
            f"p50 {statistics.median(shortcut_acks):.1f} ms, "
            f"p99 {percentile(shortcut_acks, 0.99):.1f} ms, max {max(shortcut_acks):.1f} ms"
            if shortcut_acks
            else "shortcut acks beside the burst: none"
        ),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Channel messages beside feedback, and follow-ups beside new feedback: neither may slow new feedback down.

    uv run python -m bench.bench_messages [--rate 500] [--seconds 30] [--submissions 20] [--rounds 1]
                                          [--threads 30] [--flood-rate 10] [--flood-seconds 60]

The bot subscribes to `message.*`, so it receives every message of every channel it is in. Part 1
sends `--submissions` whole-view message-shortcut submissions (as bench_ack sends them) spread over
`--seconds`, first alone, then beside `--rate` ordinary channel messages a second (people talking in
channels and in threads nobody filed, bots, joins, edits): the submissions' ack p99 should stay
within 1.2× of the quiet run. Printed: ack p50/p99 of both runs and their ratio, the messages' acks,
and the CPU the bot process used in each run.

Part 2 floods the write budget with follow-ups: `--threads` filed messages each get a reply every
few seconds (together far more than Productlane's 60 writes a minute), and meanwhile new feedback
is filed now and then. Printed: the follow-up writes made, and each new thread's delay from its ack
to its `POST /threads` — with how many other writes reached Productlane in between (goal: at most
one) — beside the same delay without the flood. The fake Productlane enforces the write limit.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import signal
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_ack import (
    ENTRY_POINT,
    bot_environment,
    open_views,
    percentile,
    start,
    submissions,
    summary,
    wait_until,
)
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

CHANNEL = "C0FEEDBACK"
SCOPES = ("threads:read", "threads:write", "files:write", "comments:write")
# What people and bots say in channels, none of it for the bot (no thread it filed).
ORDINARY = (
    *(["top_level_by_person"] * 5),
    *(["thread_reply_by_person"] * 3),
    "reply_with_file",
    "bot_message",
    "message_changed",
    "message_deleted",
    "channel_join",
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ordinary_messages(slack: FakeSlack, count: int) -> list[dict[str, Any]]:
    """`count` message events as Slack sends them (fresh ids and timestamps), made up front."""
    templates = [slack.message_event_payload(kind) for kind in ORDINARY]
    made = []
    for index in range(count):
        payload = copy.deepcopy(templates[index % len(templates)])
        payload["event_id"] = f"EvB{index:08d}"
        event = payload["event"]
        if "ts" in event and event.get("subtype") not in ("message_changed", "message_deleted"):
            event["ts"] = event["event_ts"] = f"{1764400000 + index // 1000}.{index % 1000:06d}"
        made.append(payload)
    return made


def send_traffic(slack: FakeSlack, payloads: list[dict[str, Any]], rate: int, sent: list[str]) -> None:
    """`rate` envelopes a second, a few every 10 ms (as many channels talking at once would)."""
    chunk = max(1, rate // 100)
    started = time.monotonic()
    for index in range(0, len(payloads), chunk):
        due = started + index / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        for payload in payloads[index : index + chunk]:
            sent.append(slack.socket.send_envelope("events_api", payload))


def submit_spread(slack: FakeSlack, payloads: list[dict[str, Any]], seconds: float) -> list[float]:
    """Each submission alone, evenly over `seconds`; their ack latencies (ms)."""
    latencies = []
    gap = seconds / len(payloads)
    started = time.monotonic()
    for index, payload in enumerate(payloads):
        pause = started + index * gap - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        envelope = slack.socket.send_envelope("interactive", payload)
        slack.socket.wait_ack(envelope, timeout=30)
        latencies.append(slack.socket.ack_latency(envelope) * 1000)
    return latencies


def outbox_waiting(database: Path) -> int:
    """Submissions not yet delivered (their confirmation included)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        query = "SELECT count(*) FROM outbox_items WHERE status IN ('pending', 'sending')"
        return int(db.execute(query).fetchone()[0])


def part_one(slack: FakeSlack, bot_pid: int, database: Path, args: argparse.Namespace) -> None:
    warm_up = 3
    per_round = args.submissions
    payloads = submissions(slack, open_views(slack, warm_up + 2 * per_round * args.rounds, 4))
    # The first submissions pay for what is loaded on first use: not measured.
    submit_spread(slack, payloads[:warm_up], 1.0)
    payloads = payloads[warm_up:]
    wait_until(lambda: outbox_waiting(database) == 0, 600, "the outbox to drain")
    quiet: list[float] = []
    busy: list[float] = []
    message_acks: list[float] = []
    quiet_cpu = quiet_wall = busy_cpu = busy_wall = 0.0
    sent_total = 0
    for round_index in range(args.rounds):
        batch = payloads[2 * per_round * round_index : 2 * per_round * (round_index + 1)]
        traffic = ordinary_messages(slack, args.rate * args.seconds)

        cpu, started = cpu_seconds(bot_pid), time.monotonic()
        quiet += submit_spread(slack, batch[:per_round], args.seconds)
        quiet_cpu += cpu_seconds(bot_pid) - cpu
        quiet_wall += time.monotonic() - started

        sent: list[str] = []
        sender = threading.Thread(target=send_traffic, args=(slack, traffic, args.rate, sent), daemon=True)
        cpu, started = cpu_seconds(bot_pid), time.monotonic()
        sender.start()
        busy += submit_spread(slack, batch[per_round:], args.seconds)
        sender.join()
        for envelope in sent:
            slack.socket.wait_ack(envelope, timeout=30)
        busy_cpu += cpu_seconds(bot_pid) - cpu
        busy_wall += time.monotonic() - started
        message_acks += [slack.socket.ack_latency(envelope) * 1000 for envelope in sent]
        sent_total += len(sent)

    print(
        f"part 1: {per_round} submissions over {args.seconds} s, alone and beside channel messages"
        + (f" ({args.rounds} rounds of each, alternating)" if args.rounds > 1 else "")
    )
    print(summary("submissions, quiet", quiet))
    print(summary(f"submissions, {args.rate} msg/s", busy))
    ratio = percentile(busy, 0.99) / percentile(quiet, 0.99)
    print(f"submission ack p99 ratio busy/quiet: {ratio:.2f} (goal ≤ 1.2)")
    achieved = sent_total / max(busy_wall, 0.001)
    print(summary("channel messages", message_acks) + f"  ({sent_total} sent, {achieved:.0f}/s achieved)")
    extra = busy_cpu - quiet_cpu * busy_wall / quiet_wall
    print(
        f"bot CPU: quiet {quiet_cpu:.2f} s in {quiet_wall:.1f} s ({100 * quiet_cpu / quiet_wall:.1f}% of a "
        f"core); busy {busy_cpu:.2f} s in {busy_wall:.1f} s ({100 * busy_cpu / busy_wall:.1f}% of a core), "
        f"{1e6 * extra / max(sent_total, 1):.0f} µs per message"
    )


def followed_count(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        try:
            return int(db.execute("SELECT count(*) FROM conversation_threads").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def file_by_reaction(slack: FakeSlack, ts: str, text: str) -> float:
    """A customer's message, filed with the feedback emoji; when its reaction was acked."""
    slack.web.add_message(CHANNEL, {"type": "message", "user": "U0CUST0003", "ts": ts, "text": text})
    envelope = slack.socket.send_envelope("events_api", slack.reaction_added_payload(ts, user="U0CSM0002"))
    slack.socket.wait_ack(envelope, timeout=30)
    return time.time()


def new_feedback_delays(
    slack: FakeSlack, productlane: FakeProductlane, count: int, gap: float, base_ts: int, label: str
) -> list[tuple[float, int]]:
    """File `count` messages `gap` s apart; for each, (seconds from ack to its POST /threads, other
    writes that reached Productlane in between)."""
    acked: list[tuple[str, float]] = []
    for index in range(count):
        text = f"{label} feedback {index}"
        acked.append((text, file_by_reaction(slack, f"{base_ts + index}.000100", text)))
        time.sleep(gap)

    def created(text: str) -> Any:
        return next(
            (
                r
                for r in productlane.requests_to("POST", "/threads")
                if text in str((r.json or {}).get("text"))
            ),
            None,
        )

    wait_until(lambda: all(created(text) for text, _ in acked), 300, f"{label} feedback to be created")
    results = []
    for text, at in acked:
        post = created(text)
        between = [
            r
            for r in productlane.requests
            if at <= r.time < post.time and r.method in ("POST", "PATCH") and r.path != "/threads"
        ]
        results.append((post.time - at, len(between)))
    return results


def part_two(
    slack: FakeSlack, productlane: FakeProductlane, database: Path, args: argparse.Namespace
) -> None:
    parents = [f"{1764500000 + index}.000100" for index in range(args.threads)]
    for index, ts in enumerate(parents):
        file_by_reaction(slack, ts, f"Flood thread {index}")
    wait_until(lambda: followed_count(database) >= args.threads, 600, "every thread to be filed and followed")
    wait_until(lambda: outbox_waiting(database) == 0, 600, "the outbox to drain")
    time.sleep(2)
    quiet = new_feedback_delays(slack, productlane, 5, 3.0, 1764600000, "quiet")

    stop = threading.Event()
    replies = [0]

    def flood() -> None:
        index = 0
        while not stop.is_set():
            parent = random.choice(parents)
            ts = f"{1764700000 + index}.000100"
            event = {
                "type": "message",
                "channel": CHANNEL,
                "channel_type": "channel",
                "user": "U0CUST0003",
                "text": f"follow-up {index}",
                "ts": ts,
                "thread_ts": parent,
                "event_ts": ts,
            }
            slack.socket.send_envelope("events_api", slack.events_api_payload(event))
            index += 1
            replies[0] = index
            stop.wait(1 / args.flood_rate)

    comments_before = productlane.conversation.comment_count
    flooder = threading.Thread(target=flood, daemon=True)
    started = time.monotonic()
    flooder.start()
    time.sleep(15)  # the budget is saturated by now
    # One new thread every 3 s: a third of the budget, the rest is the follow-ups' to take.
    during = new_feedback_delays(slack, productlane, 10, 3.0, 1764800000, "flooded")
    remaining = args.flood_seconds - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    stop.set()
    flooder.join()
    elapsed = time.monotonic() - started
    comments = productlane.conversation.comment_count - comments_before

    def line(name: str, found: list[tuple[float, int]]) -> str:
        delays = [delay for delay, _ in found]
        return (
            f"{name:<28} n={len(found):<3} delay p50={statistics.median(delays):5.2f} s  "
            f"max={max(delays):5.2f} s  other writes before it: max {max(n for _, n in found)}"
        )

    print(
        f"part 2: {args.threads} followed threads, {replies[0]} follow-ups in {elapsed:.0f} s "
        f"({args.flood_rate:g}/s), {comments} comment writes ({60 * comments / elapsed:.1f}/min)"
    )
    print(line("new feedback, no flood", quiet))
    print(line("new feedback, during flood", during))
    print(f"429 answers from Productlane: {productlane.rate_limited_count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500, help="channel messages a second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="quiet and busy runs, alternating")
    parser.add_argument("--threads", type=int, default=30, help="followed threads in the flood")
    parser.add_argument("--flood-rate", type=float, default=10.0, help="follow-ups a second in the flood")
    parser.add_argument("--flood-seconds", type=float, default=60.0)
    parser.add_argument("--skip-flood", action="store_true")
    parser.add_argument("--skip-messages", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-messages-"))
    database = home / "outbox.db"
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES, enforce_rate_limit=True) as productlane:
        productlane.delay(0.2, method="POST")
        env = bot_environment(
            slack,
            productlane,
            f"sqlite:///{database}",
            LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            # The follow-up flood measures the acks and the batching, not the flood limits.
            FOLLOWUPS_PER_AUTHOR_HOUR="0",
            FOLLOWUPS_PER_CHANNEL_HOUR="0",
        )
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            if not args.skip_messages:
                part_one(slack, bot.pid, database, args)
            if not args.skip_flood:
                part_two(slack, productlane, database, args)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
    print(f"bot log: {home / 'bot.log'}")


if __name__ == "__main__":
    main()

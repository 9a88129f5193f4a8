"""Ack latency and drain time for what Slack really sends, beside a bare Bolt app that only acks.

    uv run python -m bench.bench_ack [--burst 200] [--row 20] [--paragraphs 4] [--productlane-delay 2]

The main path is measured: a message shortcut on a realistic customer message (the fixture's
message, `--paragraphs` paragraphs long, each shortcut on a message of its own) opens the modal; the
`view_submission` then carries the whole view — every block and the message's preview — as Slack
sends it. Our bot opens `--row + --burst` modals that way (setup, not measured); the bare Bolt app
then gets the very same submission payloads, then our bot does: first `--row` one at a time, then a
burst of `--burst` at once, in one run. The fake Productlane takes `--productlane-delay` seconds per
request and enforces Productlane's write limit (60/min, ≤ 20 in 10 s), answering 429 when it is
exceeded. Printed: payload size, ack p50/p99 for each app and phase, the p99 ratio, the time our
bot took to deliver everything against the 60/min ceiling, and the 429s.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
BARE_APP = Path(__file__).with_name("bare_app.py")
WRITE_RATE_PER_S = 1.0  # Productlane: 60 writes a minute


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def bot_environment(
    slack: FakeSlack, productlane: FakeProductlane, database_url: str, **settings: str
) -> dict[str, str]:
    """The environment a benchmarked bot runs in: this one without proxies, the fakes, a quiet log,
    a free PORT and Productlane's real pace (unlike the tests'), then ``settings`` over it."""
    return {
        **{k: v for k, v in os.environ.items() if "PROXY" not in k.upper()},
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "PRODUCTLANE_API_KEY": productlane.api_key,
        "PRODUCTLANE_API_URL": productlane.url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "PORT": str(free_port()),
        **settings,
    }


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)


def customer_message(slack: FakeSlack, index: int, paragraphs: int) -> dict[str, Any]:
    """The fixture's customer message, `paragraphs` times over, at a timestamp of its own."""
    message: dict[str, Any] = slack.message_shortcut_payload(MESSAGE_SHORTCUT)["message"]
    section, bullets, thanks = message["blocks"][0]["elements"]
    elements = []
    for paragraph in range(paragraphs):
        words = copy.deepcopy(section)
        words["elements"][1]["text"] += (
            f"We tried again this morning (attempt {paragraph + 1}) and it failed. "
        )
        elements += [words, copy.deepcopy(bullets)]
    message["blocks"][0]["elements"] = [*elements, thanks]
    message["text"] = "\n\n".join([message["text"]] * paragraphs)
    message["ts"] = f"{1764252900 + index}.000100"
    message["client_msg_id"] = f"3f1c0b8e-0000-4000-8000-{index:012d}"
    return message


def open_views(slack: FakeSlack, count: int, paragraphs: int) -> list[str]:
    """Open `count` feedback modals through the message shortcut (setup, not measured)."""
    view_ids: list[str] = []
    for index in range(count):
        before = len(slack.web.calls("views.open"))
        payload = slack.message_shortcut_payload(
            MESSAGE_SHORTCUT, message=customer_message(slack, index, paragraphs)
        )
        slack.socket.wait_ack(slack.socket.send_envelope("interactive", payload))
        wait_until(lambda n=before: len(slack.web.calls("views.open")) > n, 10, "views.open")
        view_id = slack.web.calls("views.open")[before].response["view"]["id"]
        # The author's details arrive by views.update; the submission carries that final view.
        wait_until(
            lambda v=view_id: any(c.params.get("view_id") == v for c in slack.web.calls("views.update")),
            10,
            "views.update",
        )
        view_ids.append(view_id)
    return view_ids


def submissions(slack: FakeSlack, view_ids: list[str]) -> list[dict[str, Any]]:
    """Each modal submitted as Slack sends it: the whole view, with a pain level picked."""
    return [
        slack.view_submission_payload(view_id, {"pain_level": {"pain_level": "HIGH"}}) for view_id in view_ids
    ]


def measure(slack: FakeSlack, payloads: list[dict[str, Any]], row: int) -> tuple[list[float], list[float]]:
    """Ack latencies (ms): `row` sent one at a time, then the rest at once."""
    one_by_one: list[float] = []
    for payload in payloads[:row]:
        envelope = slack.socket.send_envelope("interactive", payload)
        slack.socket.wait_ack(envelope, timeout=10)
        one_by_one.append(slack.socket.ack_latency(envelope) * 1000)
    burst_ids = [slack.socket.send_envelope("interactive", p) for p in payloads[row:]]
    for envelope in burst_ids:
        slack.socket.wait_ack(envelope, timeout=30)
    burst = [slack.socket.ack_latency(envelope) * 1000 for envelope in burst_ids]
    return one_by_one, burst


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<28} n={len(values):<4} p50={statistics.median(values):7.2f} ms"
        f"  p99={percentile(values, 0.99):7.2f} ms  max={max(values):7.2f} ms"
    )


def measure_bare_app(
    payloads: list[dict[str, Any]], row: int, home: Path, base_env: dict[str, str], concurrency: int
) -> Any:
    """The bare Bolt app, fed the same submissions (a copy of each view, as Slack would send it)."""
    with FakeSlack() as bare_slack:
        env = {**base_env, "SLACK_API_URL": bare_slack.api_url}
        env |= {"SLACK_BOT_TOKEN": bare_slack.bot_token, "SLACK_APP_TOKEN": bare_slack.app_token}
        env |= {"BARE_CONCURRENCY": str(concurrency)}
        bare = start([sys.executable, str(BARE_APP)], env, home, home / "bare.log")
        try:
            bare_slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            return measure(bare_slack, copy.deepcopy(payloads), row)
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--row", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--paragraphs", type=int, default=4, help="length of each customer message")
    parser.add_argument("--productlane-delay", type=float, default=2.0)
    parser.add_argument(
        "--bare-concurrency",
        type=int,
        default=10,
        help="the bare app's socket-mode threads (Bolt's default 10)",
    )
    parser.add_argument("--no-drain", action="store_true", help="stop after the acks (no delivery timing)")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="record our bot's burst with py-spy (installed separately) into FILE",
    )
    args = parser.parse_args()
    total = args.row + args.burst
    home = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    base_env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    drained = None

    with FakeSlack() as slack, FakeProductlane(enforce_rate_limit=True) as productlane:
        productlane.delay(args.productlane_delay, method="POST", path="/threads")
        env = bot_environment(slack, productlane, f"sqlite:///{home / 'outbox.db'}")
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            payloads = submissions(slack, open_views(slack, total, args.paragraphs))
            sizes = sorted(len(json.dumps(payload)) for payload in payloads)
            bare_row, bare_burst = measure_bare_app(payloads, args.row, home, base_env, args.bare_concurrency)
            time.sleep(0.5)
            profiler = None
            if args.profile:
                command = ["py-spy", "record", "--pid", str(bot.pid), "-o", args.profile, "-f", "raw", "-t"]
                command += ["--nonblocking", "--rate", "500"]
                profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL)
                time.sleep(1)
            started = time.monotonic()
            ours_row, ours_burst = measure(slack, payloads, args.row)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
            if not args.no_drain:
                wait_until(lambda: productlane.created_count >= total, 3600, "the outbox to drain")
                drained = time.monotonic() - started
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

    print(
        f"message shortcut submissions, whole view in each: median {statistics.median(sizes) / 1024:.1f} KiB "
        f"(max {sizes[-1] / 1024:.1f} KiB); {args.row} in a row, then {args.burst} at once"
    )
    print(summary("bare Bolt app, one at a time", bare_row))
    print(summary("our bot, one at a time", ours_row))
    print(summary("bare Bolt app, burst", bare_burst))
    print(summary("our bot, burst", ours_burst))
    ratio = percentile(ours_burst, 0.99) / percentile(bare_burst, 0.99)
    print(f"burst p99 ratio ours/bare: {ratio:.2f} (goal ≤ 1.0)")
    if drained is not None:
        # The 60/min ceiling: one write a second, the last answered after the delay.
        ceiling = total / WRITE_RATE_PER_S + args.productlane_delay
        print(f"Productlane answers in {args.productlane_delay} s")
        print(f"drained {total} submissions in {drained:.1f} s; 60/min ceiling allows {ceiling:.1f} s")
        print(f"429 answers from Productlane: {productlane.rate_limited_count}")
        print(f"threads created: {productlane.created_count} (POSTs: {productlane.post_count})")


if __name__ == "__main__":
    main()

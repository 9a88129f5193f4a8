"""Ack latency and drain time through the socket-mode path, beside a bare Bolt app that only acks.

    uv run python -m bench.bench_ack [--burst 200] [--row 20] [--productlane-delay 2]

Both apps run as their own processes against loopback fakes (tests/fakes) and receive the same
view_submission envelopes: first `--row` one at a time, then a burst of `--burst` at once. The fake
Productlane takes `--productlane-delay` seconds per request and enforces Productlane's write limit
(60/min, ≤ 20 in 10 s), answering 429 when it is exceeded. Printed: ack p50/p99 for each app in
each phase, the time our bot took to deliver everything against the 60/min ceiling, and the 429s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.slack.ids import FEEDBACK_MODAL, GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
BARE_APP = Path(__file__).with_name("bare_app.py")
WRITE_RATE_PER_S = 1.0  # Productlane: 60 writes a minute


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


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)


def open_views(slack: FakeSlack, count: int) -> list[str]:
    """Open `count` feedback modals through the global shortcut (setup, not measured)."""
    view_ids: list[str] = []
    for _ in range(count):
        before = len(slack.web.calls("views.open"))
        envelope = slack.socket.send_envelope("interactive", slack.global_shortcut_payload(GLOBAL_SHORTCUT))
        slack.socket.wait_ack(envelope)
        wait_until(lambda n=before: len(slack.web.calls("views.open")) > n, 10, "views.open")
        view_ids.append(slack.web.calls("views.open")[before].response["view"]["id"])
    return view_ids


def submissions(slack: FakeSlack, view_ids: list[str]) -> list[dict[str, Any]]:
    return [
        slack.view_submission_payload(
            view_id,
            {
                "feedback": {"feedback": f"Bench item {index}"},
                "contact_email": {"contact_email": "bench@customer.example"},
            },
        )
        for index, view_id in enumerate(view_ids)
    ]


def bare_submissions(slack: FakeSlack, count: int) -> list[dict[str, Any]]:
    view = {
        "id": "V0BARE",
        "type": "modal",
        "callback_id": FEEDBACK_MODAL,
        "hash": "1",
        "private_metadata": "",
        "blocks": [],
    }
    return [slack.view_submission_payload(dict(view, id=f"V0BARE{i}"), {}) for i in range(count)]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--row", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--productlane-delay", type=float, default=2.0)
    args = parser.parse_args()
    total = args.row + args.burst
    home = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    base_env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}

    with FakeSlack() as bare_slack:
        env = {**base_env, "SLACK_API_URL": bare_slack.api_url}
        env |= {"SLACK_BOT_TOKEN": bare_slack.bot_token, "SLACK_APP_TOKEN": bare_slack.app_token}
        bare = start([sys.executable, str(BARE_APP)], env, home, home / "bare.log")
        try:
            bare_slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            bare_row, bare_burst = measure(bare_slack, bare_submissions(bare_slack, total), args.row)
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait(timeout=30)

    with FakeSlack() as slack, FakeProductlane(enforce_rate_limit=True) as productlane:
        productlane.delay(args.productlane_delay, method="POST", path="/threads")
        env = {
            **base_env,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            "PRODUCTLANE_API_KEY": productlane.api_key,
            "PRODUCTLANE_API_URL": productlane.url,
            "DATABASE_URL": f"sqlite:///{home / 'outbox.db'}",
            "LOG_LEVEL": "WARNING",
        }
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            payloads = submissions(slack, open_views(slack, total))
            started = time.monotonic()
            ours_row, ours_burst = measure(slack, payloads, args.row)
            wait_until(lambda: productlane.created_count >= total, 3600, "the outbox to drain")
            drained = time.monotonic() - started
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

    # The 60/min ceiling: every submission at one write a second, the last answered after the delay.
    ceiling = total / WRITE_RATE_PER_S + args.productlane_delay
    print(
        f"Productlane answers in {args.productlane_delay} s; {args.row} in a row, then {args.burst} at once"
    )
    print(summary("bare Bolt app, one at a time", bare_row))
    print(summary("our bot, one at a time", ours_row))
    print(summary("bare Bolt app, burst", bare_burst))
    print(summary("our bot, burst", ours_burst))
    ratio = percentile(ours_burst, 0.99) / percentile(bare_burst, 0.99)
    print(f"burst p99 ratio ours/bare: {ratio:.2f} (goal ≤ 1.2)")
    print(f"drained {total} submissions in {drained:.1f} s; 60/min ceiling allows {ceiling:.1f} s")
    print(f"429 answers from Productlane: {productlane.rate_limited_count}")
    print(f"threads created: {productlane.created_count} (POSTs: {productlane.post_count})")


if __name__ == "__main__":
    main()

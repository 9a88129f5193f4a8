"""HTTP mode under load: our server (waitress) beside Bolt's built-in one and, if installed, gunicorn.

    uv run python -m bench.bench_http [--burst 20] [--views-open-delay 1] [--slow-clients 1]
                                      [--connections 100] [--servers ours,bolt,gunicorn]

Each server runs the same bot, as its own process, against loopback fakes (tests/fakes), and gets:

1. burst: `--burst` signed message shortcuts at once while Slack takes `--views-open-delay` s per
   `views.open`. Printed: ack p50/p99/max, failed requests (refused, reset, timed out, not 200), and
   when the last modal was open, counted from the burst.
2. slow clients: `--slow-clients` clients send half a body and trickle the rest over 5 s; meanwhile
   20 signed requests go one after another. Printed: their latency, and failures.
3. connections: `--connections` signed requests at once on fresh connections (no Slack delay).

gunicorn is not a dependency: `uv pip install gunicorn` to include it.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bot.slack.ids import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import bot_environment
from tests.web.client import SIGNING_SECRET, SlowUpload, listening, payload_body, post_signed, signed_headers

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
COMMANDS = {
    "ours": [str(ENTRY_POINT)],
    "bolt": [sys.executable, "-m", "bench.http_alternatives", "bolt"],
    "gunicorn": [sys.executable, "-m", "bench.http_alternatives", "gunicorn"],
}
LABELS = {
    "ours": "waitress (ours)",
    "bolt": "Bolt built-in (http.server)",
    "gunicorn": "gunicorn gthread 1x8",
}
TRICKLE_SECONDS = 5.0


@dataclass
class Results:
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, attempt: Callable[[], float]) -> None:
        try:
            self.seconds.append(attempt())
        except Exception as error:
            self.failures.append(type(error).__name__)

    def summary(self) -> str:
        if not self.seconds:
            return f"all {len(self.failures)} failed ({', '.join(sorted(set(self.failures)))})"
        ms = sorted(s * 1000 for s in self.seconds)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        failed = f"{len(self.failures)} failed" + (
            f" ({', '.join(sorted(set(self.failures)))})" if self.failures else ""
        )
        return f"p50 {statistics.median(ms):7.1f} ms  p99 {p99:7.1f} ms  max {ms[-1]:7.1f} ms  {failed}"


def signed_ok(port: int, body: bytes, timeout: float = 10.0) -> float:
    answer = post_signed(port, body, timeout=timeout)
    if answer.status != 200:
        raise RuntimeError(f"HTTP {answer.status}")
    return answer.seconds


def at_once(count: int, attempt: Callable[[int], float]) -> Results:
    results = Results()
    ready = threading.Barrier(count)

    def run(index: int) -> None:
        ready.wait()
        results.add(lambda: attempt(index))

    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(run, range(count)))
    return results


def burst(slack: FakeSlack, port: int, count: int, delay: float) -> tuple[Results, float | None]:
    slack.web.delay("views.open", delay)
    bodies = [payload_body(slack.message_shortcut_payload(MESSAGE_SHORTCUT)) for _ in range(count)]
    before = len(slack.web.calls("views.open"))
    started = time.monotonic()
    results = at_once(count, lambda index: signed_ok(port, bodies[index]))
    deadline = time.monotonic() + 60
    while len(slack.web.calls("views.open")) - before < len(results.seconds) and time.monotonic() < deadline:
        time.sleep(0.02)
    opened = slack.web.calls("views.open")[before:]
    slack.web.delay("views.open", 0)
    if len(opened) < count:
        return results, None
    return results, max(call.time for call in opened) + delay - started


def slow_clients(slack: FakeSlack, port: int, clients: int) -> tuple[Results, Results]:
    """Latency of 20 requests in a row while `clients` others send half a body, then the rest slowly."""
    slow = Results()
    connected = threading.Barrier(clients + 1, timeout=60)

    def slow_client() -> None:
        body = payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT))

        def upload_slowly() -> float:
            try:
                upload = SlowUpload(port, "/slack/events", body, signed_headers(body))
                upload.send(len(body) // 2)
            finally:
                connected.wait()
            for _ in range(10):
                time.sleep(TRICKLE_SECONDS / 10)
                upload.send(max(1, upload.remaining // 4))
            answer = upload.finish()
            if answer.status != 200:
                raise RuntimeError(f"HTTP {answer.status}")
            return answer.seconds

        slow.add(upload_slowly)

    threads = [threading.Thread(target=slow_client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    connected.wait()
    others = Results()
    for _ in range(20):
        body = payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT))
        others.add(functools.partial(signed_ok, port, body, timeout=30))
    for thread in threads:
        thread.join()
    return others, slow


def connections(slack: FakeSlack, port: int, count: int) -> Results:
    bodies = [payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT)) for _ in range(count)]
    return at_once(count, lambda index: signed_ok(port, bodies[index]))


def bench(name: str, args: argparse.Namespace, home: Path) -> list[str]:
    base = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = base | bot_environment(slack, productlane, home / f"{name}.db")
        del env["SLACK_APP_TOKEN"]
        env |= {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "LOG_LEVEL": "WARNING"}
        port = int(env["PORT"])
        with (home / f"{name}.log").open("wb") as log:
            server = subprocess.Popen(COMMANDS[name], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not listening(port):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"{name} did not start; see {home / f'{name}.log'}")
                time.sleep(0.05)
            for _ in range(5):  # warm up
                signed_ok(port, payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT)))
            burst_results, all_open = burst(slack, port, args.burst, args.views_open_delay)
            others, slow = slow_clients(slack, port, args.slow_clients)
            many = connections(slack, port, args.connections)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    opened = f"{all_open:5.2f} s" if all_open is not None else "not all"
    label = LABELS[name]
    return [
        f"{label:<28} burst of {args.burst:<3} acks: {burst_results.summary()}",
        f"{label:<28} burst of {args.burst:<3} every modal open after {opened}",
        f"{label:<28} beside {args.slow_clients} slow client(s): {others.summary()}"
        f" (the slow ones: {slow.summary()})",
        f"{label:<28} {args.connections} connections at once: {many.summary()}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--views-open-delay", type=float, default=1.0)
    parser.add_argument("--slow-clients", type=int, default=1)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--servers", default="ours,bolt,gunicorn")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-http-"))
    lines: list[str] = []
    for name in args.servers.split(","):
        if name == "gunicorn" and importlib.util.find_spec("gunicorn") is None:
            lines.append(f"{LABELS[name]:<28} skipped: not installed (uv pip install gunicorn)")
            continue
        lines += bench(name, args, home)
    print(f"views.open takes {args.views_open_delay} s; slow clients trickle over {TRICKLE_SECONDS:.0f} s")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""HTTP mode while clients hold connections by trickling their headers a byte at a time (slowloris).

    uv run python -m bench.bench_slowloris [--stalled 200] [--seconds 30] [--every 0.5] [--timeout 10]

The bot runs in HTTP mode, as its own process, against loopback fakes (tests/fakes). `--stalled`
connections each send a request's first byte, then one more header byte every `--every` s, never
ending it; whenever the bot closes one, another takes its place, so `--stalled` stay open for the
whole run, as an attacker keeps them. Meanwhile, for `--seconds`, signed Slack requests (a global
shortcut) go one after another, each followed by a GET /healthz, each given `--timeout` s.

Printed: latency p50/p99/max of the signed requests and of the probes and how many failed (timed
out, refused, reset, not 200); how many of the stalled connections the bot held at once at most
(accepted, not waiting in the listen backlog), and how many it closed.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_http import Results, signed_ok
from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import bot_environment
from tests.web.client import (
    SIGNING_SECRET,
    StalledClients,
    connections_held,
    listening,
    payload_body,
    request,
)

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"


def probe_ok(port: int, timeout: float) -> float:
    answer = request(port, "GET", "/healthz", timeout=timeout)
    if answer.status != 200:
        raise RuntimeError(f"HTTP {answer.status}")
    return answer.seconds


class HeldSampler:
    """The most stalled connections the bot held at once, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int, port: int, stalled: StalledClients) -> None:
        self.most = 0
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.wait(0.2):
                self.most = max(self.most, connections_held(pid, port, stalled.local_ports))

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.most


def run(args: argparse.Namespace, home: Path) -> list[str]:
    base = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = base | bot_environment(slack, productlane, home / "outbox.db")
        del env["SLACK_APP_TOKEN"]
        env |= {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "LOG_LEVEL": "WARNING"}
        port = int(env["PORT"])
        with (home / "bot.log").open("wb") as log:
            bot = subprocess.Popen(
                [str(ENTRY_POINT)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + 60
            while not listening(port):
                if time.monotonic() > deadline or bot.poll() is not None:
                    raise SystemExit(f"the bot did not start; see {home / 'bot.log'}")
                time.sleep(0.05)
            for _ in range(5):  # warm up
                signed_ok(port, payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT)))
            signed, probes = Results(), Results()
            with StalledClients(port, args.stalled, args.every, reopen=True) as stalled:
                held = HeldSampler(bot.pid, port, stalled)
                time.sleep(1.0)  # every stalled connection has sent a byte or two
                end = time.monotonic() + args.seconds
                while time.monotonic() < end:
                    body = payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT))
                    signed.add(functools.partial(signed_ok, port, body, timeout=args.timeout))
                    probes.add(functools.partial(probe_ok, port, args.timeout))
                    time.sleep(0.1)
                most_held = held.stop()
                closed = stalled.closed
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
    return [
        f"{args.stalled} stalled connections trickling a header byte every {args.every} s, "
        f"for {args.seconds:.0f} s (timeout {args.timeout:.0f} s a request):",
        f"  signed Slack requests: {signed.summary()}",
        f"  GET /healthz:          {probes.summary()}",
        f"  stalled connections held by the bot at once: at most {most_held}; closed by the bot: {closed}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stalled", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-slowloris-"))
    print("\n".join(run(args, home)))


if __name__ == "__main__":
    main()

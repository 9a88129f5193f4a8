"""Resident memory under a growing backlog: back-to-back bursts of whole-view submissions for minutes.

    uv run python -m bench.bench_soak [--minutes 5] [--burst 50] [--interval 3] [--views 50]

The bot runs as a user starts it (`productlane-slack`, socket mode, SQLite) against the loopback
Slack and a Productlane that enforces its write limit (60 a minute), so the outbox fills about as
fast as the bot accepts. `--views` feedback modals are opened through the message shortcut first
(setup); then, until `--minutes` have passed, `--burst` submissions are sent at once, each carrying
the whole view as Slack sends it (a fresh view hash each time, so each is a submission of its own),
and the next burst starts `--interval` seconds after the last began, or once it is acked if that is
later (3 s: about 16 submissions a second, the pace of the security review's soak, whose bursts each
opened their modals; 0: as fast as the bot acks). The bot's VmRSS is sampled every few
seconds; printed each minute with what was accepted, delivered and queued, then the rise over the
last half of the run (the goal: flat, well under 1 MB over a 20-minute soak's last 10 minutes).
"""

from __future__ import annotations

import argparse
import copy
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_ack import ENTRY_POINT, bot_environment, open_views, start, submissions
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

SAMPLE_SECONDS = 5.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    """The bot's RSS every SAMPLE_SECONDS, beside the counts at that moment."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []  # (seconds since the soak began, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._began = time.monotonic()

    def start(self) -> None:
        self._began = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.samples.append((time.monotonic() - self._began, rss_mb(self.pid)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def slope_mb_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time: noise-resistant beside the end-to-end difference."""
    if len(samples) < 2:
        return 0.0
    times = [t / 60 for t, _ in samples]
    values = [v for _, v in samples]
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread


def soak(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    with FakeSlack() as slack, FakeProductlane(enforce_rate_limit=True) as productlane:
        env = bot_environment(slack, productlane, f"sqlite:///{home / 'outbox.db'}")
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            templates = submissions(slack, open_views(slack, args.views, args.paragraphs))
            print(f"{args.views} modals opened; RSS {rss_mb(bot.pid):.1f} MB before the first burst")
            sampler = Sampler(bot.pid)
            sampler.start()
            accepted = refused = 0
            minute = 1
            began = time.monotonic()
            sent = 0
            while (elapsed := time.monotonic() - began) < args.minutes * 60:
                burst_began = time.monotonic()
                envelopes = []
                for index in range(args.burst):
                    payload: dict[str, Any] = copy.deepcopy(templates[(sent + index) % len(templates)])
                    payload["view"]["hash"] = f"{time.time_ns():x}.soak{sent + index}"
                    envelopes.append(slack.socket.send_envelope("interactive", payload))
                sent += args.burst
                for envelope in envelopes:
                    ack = slack.socket.wait_ack(envelope, timeout=60)
                    # An ack with a payload is the modal showing errors: not accepted.
                    if ack.get("payload"):
                        refused += 1
                    else:
                        accepted += 1
                if elapsed >= minute * 60:
                    delivered = productlane.created_count
                    print(
                        f"minute {minute:>2}: RSS {rss_mb(bot.pid):5.1f} MB; accepted {accepted}, "
                        f"delivered {delivered}, queued {accepted - delivered}, refused {refused}",
                        flush=True,
                    )
                    minute += 1
                time.sleep(max(0.0, burst_began + args.interval - time.monotonic()))
            sampler.stop()
            final = rss_mb(bot.pid)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
    report(sampler.samples, final, args.minutes, accepted, productlane.created_count)


def report(
    samples: list[tuple[float, float]], final: float, minutes: float, accepted: int, delivered: int
) -> None:
    seconds = minutes * 60
    fifth = [v for t, v in samples if t < seconds / 5]
    last_fifth = [v for t, v in samples if t >= seconds * 4 / 5]
    last_half = [(t, v) for t, v in samples if t >= seconds / 2]
    at_half = min(samples, key=lambda sample: abs(sample[0] - seconds / 2))[1]
    print(f"accepted {accepted}, delivered {delivered}, queued at the end {accepted - delivered}")
    if fifth and last_fifth:
        print(
            f"RSS mean, first fifth {statistics.fmean(fifth):.1f} MB → last fifth "
            f"{statistics.fmean(last_fifth):.1f} MB; at the end {final:.1f} MB"
        )
    print(
        f"over the last half: rise {final - at_half:+.2f} MB ({at_half:.1f} → {final:.1f}), "
        f"slope {slope_mb_per_minute(last_half):+.3f} MB a minute"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=50, help="submissions sent at once")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds from one burst to the next")
    parser.add_argument("--views", type=int, default=50, help="modals opened first, submitted in turn")
    parser.add_argument("--paragraphs", type=int, default=4, help="length of each customer message")
    soak(parser.parse_args())


if __name__ == "__main__":
    main()

"""Start-up time and idle memory of the bot, beside a bare Bolt app, both in socket mode.

    uv run python -m bench.bench_start [--runs 5] [--idle 5]

Each run starts the process as a user would (`productlane-slack`, configured by environment variables,
pointed at the loopback fakes) and measures the time from the process start to its "connected" line
(for the bare app: to the socket-mode hello being answered), then the resident memory (VmRSS) after
`--idle` seconds of doing nothing. The environment's own `PYTHONDONTWRITEBYTECODE` is kept, as a
container would have it: only bytecode the environment already holds is used.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
BARE_APP = Path(__file__).with_name("bare_app.py")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_for(condition: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(0.002)
    raise SystemExit("timed out waiting for the connected line")


def one_run(
    command: list[str], env: dict[str, str], cwd: Path, connected: object, idle: float
) -> tuple[float, float]:
    log = cwd / "run.log"
    with log.open("wb") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        try:
            at = wait_for(lambda: connected(log), 30)  # type: ignore[operator]
        except SystemExit:
            print(log.read_text(errors="replace")[-2000:], file=sys.stderr)
            raise
        time.sleep(idle)
        return at - started, rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def bare_app_run(env: dict[str, str], home: Path, idle: float) -> tuple[float, float]:
    """The bare Bolt app (bench/bare_app.py) against its own fake Slack: start → hello, idle RSS."""
    with FakeSlack() as slack:
        env = env | {"SLACK_API_URL": slack.api_url}
        env |= {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token}
        return one_run(
            [sys.executable, str(BARE_APP)], env, home, lambda _log: slack.socket.connections > 0, idle
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    base_env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    results: dict[str, list[tuple[float, float]]] = {
        "bare Bolt app": [],
        "+ bot's libraries": [],
        "our bot": [],
    }
    for _ in range(args.runs):
        home = Path(tempfile.mkdtemp(prefix="bench-start-"))
        for name, extra in (("bare Bolt app", {}), ("+ bot's libraries", {"BARE_WITH_LIBRARIES": "1"})):
            results[name].append(bare_app_run(base_env | extra, home, args.idle))
        with FakeSlack() as slack, FakeProductlane() as productlane:
            env = {
                **base_env,
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_API_URL": slack.api_url,
                "PRODUCTLANE_API_KEY": productlane.api_key,
                "PRODUCTLANE_API_URL": productlane.url,
                "DATABASE_URL": f"sqlite:///{home / 'outbox.db'}",
                "PORT": str(free_port()),
            }
            results["our bot"].append(
                one_run(
                    [str(ENTRY_POINT)],
                    env,
                    home,
                    lambda log: "connected to Slack workspace" in log.read_text(errors="replace"),
                    args.idle,
                )
            )
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!s}; {args.runs} runs")
    for name, runs in results.items():
        starts = [start for start, _ in runs]
        rss = [memory for _, memory in runs]
        print(
            f"{name:<17} start → connected: median {statistics.median(starts):.2f} s "
            f"(min {min(starts):.2f}, max {max(starts):.2f}); idle RSS median {statistics.median(rss):.1f} MB"
        )


if __name__ == "__main__":
    main()

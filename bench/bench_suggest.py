"""Slack's options requests for the triage selects (`block_suggestion`), answered by the
real bot from a full-size catalog: 5,000 issues, 500 projects, 3,000 companies, 300 tags, 200 members.

    uv run python -m bench.bench_suggest [--requests 1000] [--seed 14]

The bot runs as a user runs it (`productlane-slack`, socket mode, loopback fakes) with a key that
may read every list; once its catalog is loaded (the log says so; the refresh keeps to 200 reads a
minute, so this takes about half a minute), a feedback modal is opened on a message shortcut and
`--requests` options requests are sent one after another, as a person typing would, each carrying
that whole modal as Slack does. The queries are what people type: first letters of a word, two
words in any order, upper case, no accents, nothing yet, nothing that matches. Printed: the time
from sending each envelope to its ack with the options (p50, p99, max) per select and overall, the
options per answer, and the resident memory of the bot holding the whole catalog.
"""

from __future__ import annotations

import argparse
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_ack import bot_environment
from bench.triage_workspace import SCOPES, SIZES, queries, seed_workspace
from bot.slack.ids import ASSIGNEE_SELECT, COMPANY_SELECT, LINK_SELECT, MESSAGE_SHORTCUT, TAGS_SELECT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
# Which list's names each select's queries are drawn from.
SELECTS = {
    LINK_SELECT: "issues",
    COMPANY_SELECT: "companies",
    TAGS_SELECT: "tags",
    ASSIGNEE_SELECT: "members",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def summary(name: str, values: list[float], options: list[int]) -> str:
    return (
        f"{name:<18} n={len(values):<5} p50={statistics.median(values):6.2f} ms  "
        f"p99={percentile(values, 0.99):6.2f} ms  max={max(values):6.2f} ms  "
        f"options/answer {statistics.mean(options):5.1f}"
    )


def answered_options(payload: dict[str, Any]) -> int:
    groups = payload.get("option_groups") or []
    return len(payload.get("options") or []) + sum(len(group["options"]) for group in groups)


def run_bot(
    slack: FakeSlack,
    productlane: FakeProductlane,
    names: dict[str, list[str]],
    home: Path,
    requests: int,
    rng: random.Random,
    catalog: bool,
) -> tuple[float, dict[str, list[float]], dict[str, list[int]], float]:
    """One bot: (seconds to load its catalog, latencies and options per select, RSS at the end)."""
    env = bot_environment(
        slack,
        productlane,
        f"sqlite:///{home / 'outbox.db'}",
        LOG_LEVEL="INFO",
        CATALOG_REFRESH_SECONDS="300" if catalog else "0",
    )
    log = home / "bot.log"
    with log.open("wb") as output:
        bot = subprocess.Popen([str(ENTRY_POINT)], env=env, cwd=home, stdout=output, stderr=subprocess.STDOUT)
    try:
        slack.socket.wait_connected(timeout=30)
        started = time.monotonic()
        if catalog:
            wait_until(
                lambda: all(f"catalog: {kind} refreshed" in log.read_text() for kind in SIZES),
                180,
                "the catalog to load",
            )
        loaded = time.monotonic() - started
        # A modal, opened as a person would; its options requests carry all of it.
        before = len(slack.web.calls("views.open"))
        updates = len(slack.web.calls("views.update"))
        shortcut = slack.message_shortcut_payload(MESSAGE_SHORTCUT)
        slack.socket.wait_ack(slack.socket.send_envelope("interactive", shortcut))
        wait_until(lambda: len(slack.web.calls("views.update")) > updates, 10, "the modal")
        view_id = slack.web.calls("views.open")[before].response["view"]["id"]
        time.sleep(1.0)
        latencies: dict[str, list[float]] = {action: [] for action in SELECTS}
        counts: dict[str, list[int]] = {action: [] for action in SELECTS}
        actions = list(SELECTS)
        for index in range(requests):
            action = actions[index % len(actions)]
            query = queries(names[SELECTS[action]], rng, 1)[0]
            payload = slack.block_suggestion_payload(action, query, view=view_id, user="U0CSM0002")
            envelope = slack.socket.send_envelope("interactive", payload)
            ack = slack.socket.wait_ack(envelope, timeout=10)
            latencies[action].append(slack.socket.ack_latency(envelope) * 1000)
            counts[action].append(answered_options(ack.get("payload") or {}))
        time.sleep(2.0)
        return loaded, latencies, counts, rss_mb(bot.pid)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=60)
        slack.socket.wait_disconnected(timeout=10)


INDEX_WORDS = ["export", "csv", "login", "sso", "billing", "invoice", "slow", "crash", "mobile", "dark"]
INDEX_QUERIES = ("exp", "csv export", "number 12", "zzz", "", "slow mobile crash")


def index_alone(rounds: int = 200) -> list[float]:
    """Seconds per search of one list of 5,000 names in memory, without the bot around it (what
    tests/catalog/test_search.py searches): each of INDEX_QUERIES `rounds` times."""
    from bot.catalog import Entry, KindIndex

    words = INDEX_WORDS
    big = KindIndex(
        Entry(f"is_{n}", f"{words[n % 10]} {words[(n * 7) % 10]} issue number {n} for {words[(n * 3) % 10]}")
        for n in range(5000)
    )
    seconds: list[float] = []
    for _ in range(rounds):
        for query in INDEX_QUERIES:
            started = time.perf_counter()
            big.search(query, 100)
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    alone = sorted(index_alone())
    print(
        f"the index alone, 5,000 names, {len(INDEX_QUERIES)} kinds of query: p50 "
        f"{statistics.median(alone) * 1000:.2f} ms, p99 {alone[int(0.99 * (len(alone) - 1))] * 1000:.2f} ms, "
        f"max {alone[-1] * 1000:.2f} ms a search"
    )
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        names = seed_workspace(productlane, rng)
        loaded, latencies, counts, memory = run_bot(
            slack,
            productlane,
            names,
            Path(tempfile.mkdtemp(prefix="bench-suggest-")),
            args.requests,
            rng,
            True,
        )
        # The same work by a bot without the catalog (CATALOG_REFRESH_SECONDS=0): its memory beside.
        _, _, _, baseline = run_bot(
            slack,
            productlane,
            names,
            Path(tempfile.mkdtemp(prefix="bench-suggest-off-")),
            args.requests,
            rng,
            False,
        )

    sizes = ", ".join(f"{count:,} {kind}" for kind, count in SIZES.items())
    print(f"catalog: {sizes}; loaded {loaded:.1f} s after start (200 reads a minute)")
    print(f"{args.requests} options requests one after another, each carrying the whole feedback modal")
    everything: list[float] = []
    all_counts: list[int] = []
    for action, values in latencies.items():
        print(summary(action, values, counts[action]))
        everything += values
        all_counts += counts[action]
    print(summary("all selects", everything, all_counts))
    print(f"bot RSS holding the catalog: {memory:.1f} MB; the same work without it (off): {baseline:.1f} MB")


if __name__ == "__main__":
    main()

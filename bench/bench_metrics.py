"""`GET /metrics` under a burst of submissions: how long a scrape takes, and the Slack acks beside it.

    uv run python -m bench.bench_metrics [--burst 200] [--items 100000] [--scrape-every 0.1]
                                         [--database-url postgresql+psycopg://…]

The bot runs as users run it (`productlane-slack`, socket mode, METRICS_TOKEN set) against the
loopback fakes, its outbox holding ``--items`` items already (filled as bench_home fills it: the
outbox gauges are read from the database at every scrape that finds the last read older than 5 s).
Productlane answers in 2 s and enforces its 60 writes a minute, so the burst piles up in the outbox
as it does in production. Submissions are the real thing (bench_ack's: a message shortcut on a
realistic customer message, the whole view in each `view_submission`).

Two bursts of ``--burst`` submissions at once: first with nobody scraping, then with a scraper
asking for /metrics every ``--scrape-every`` seconds (Prometheus' default is 15 s: this is 150 times
more often) from before the burst until ``--after`` seconds after every ack is in (the burst being
delivered). Printed: scrape time idle (the gauges cached, and read from the database), until the
burst was acked and after (p50/p99/max), and the ack p50/p99 of each burst.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_ack import (
    ENTRY_POINT,
    bot_environment,
    free_port,
    measure,
    open_views,
    percentile,
    start,
    submissions,
)
from bench.bench_home import add_people, fill
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.web.client import request

WARM_UP = 20
TOKEN = "bench-metrics-token"  # noqa: S105 - the bench's own, given to the bot it starts


def scrape(port: int) -> float:
    """One scrape, as Prometheus sends it; its time in ms."""
    started = time.monotonic()
    answer = request(port, "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    if answer.status != 200 or "productlane_slack_outbox_items" not in answer.body:
        raise SystemExit(f"/metrics answered {answer.status}: {answer.body[:200]}")
    return (time.monotonic() - started) * 1000


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<36} n={len(values):<5} p50={statistics.median(values):7.1f} ms"
        f"  p99={percentile(values, 0.99):7.1f} ms  max={max(values):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--items", type=int, default=100_000, help="outbox items stored before the start")
    parser.add_argument("--scrape-every", type=float, default=0.1)
    parser.add_argument("--paragraphs", type=int, default=4)
    parser.add_argument("--after", type=float, default=10.0, help="seconds of scraping after the acks")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    database_url = args.database_url or f"sqlite:///{home / 'outbox.db'}"

    with FakeSlack() as slack, FakeProductlane(enforce_rate_limit=True) as productlane:
        productlane.delay(2.0, method="POST", path="/threads")
        if args.items:
            add_people(slack, 1000)
            fill(database_url, slack, args.items, 1000)
        port = free_port()
        env = bot_environment(
            slack,
            productlane,
            database_url,
            PORT=str(port),
            METRICS_TOKEN=TOKEN,
            PRODUCTLANE_POLL_SECONDS="0",
        )
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=60)
            time.sleep(1.0)
            payloads = submissions(slack, open_views(slack, WARM_UP + 2 * args.burst, args.paragraphs))
            measure(slack, payloads[:WARM_UP], WARM_UP)  # the ack path's first calls, not measured
            payloads = payloads[WARM_UP:]
            idle = [scrape(port) for _ in range(20)]
            for _ in range(20):  # past the gauges' 5 s cache: each of these reads the database
                time.sleep(0.26)
            idle_uncached = []
            for _ in range(3):
                time.sleep(5.1)
                idle_uncached.append(scrape(port))

            _, quiet_acks = measure(slack, payloads[: args.burst], 0)
            time.sleep(5.1)
            during: list[float] = []
            stop = threading.Event()

            def scraper() -> None:
                while not stop.is_set():
                    during.append(scrape(port))
                    stop.wait(args.scrape_every)

            thread = threading.Thread(target=scraper, daemon=True)
            thread.start()
            time.sleep(0.5)
            _, scraped_acks = measure(slack, payloads[args.burst :], 0)
            acked = len(during)
            time.sleep(args.after)  # the burst being delivered (writes, Productlane's 429s, retries)
            stop.set()
            thread.join(timeout=60)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

    print(
        f"outbox: {args.items:,} items stored before the start; bursts of {args.burst} whole-view "
        f"submissions; a scrape every {args.scrape_every:g} s during the second"
    )
    print(summary("scrape, idle (gauges cached)", idle))
    print(summary("scrape, idle (gauges read from db)", idle_uncached))
    print(summary("scrape until the burst was acked", during[:acked]))
    print(summary(f"scrape in the {args.after:g} s after", during[acked:]))
    print(summary("acks, burst, nobody scraping", quiet_acks))
    print(summary("acks, burst, scraped", scraped_acks))


if __name__ == "__main__":
    main()

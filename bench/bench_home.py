"""The App Home at size: from `app_home_opened` to `views.publish`, with 100,000 outbox items from
1,000 people in the database.

    uv run python -m bench.bench_home [--items 100000] [--people 1000] [--opens 200] [--burst 50]
                                      [--database-url postgresql+psycopg://…]

The database is filled before the bot starts (going through Productlane's write limit would take
28 hours): each item is a whole submission as the ack path stores it (the message shortcut's
customer message, its source and form: a few KiB of JSON), 97 % delivered (each thread remembered
by the updates with its confirmation, one in ten linked to an issue), 2 % waiting, 1 % refused;
each person has the same share. One person in fifty is a workspace admin, whose Home also reads
delivery health. The bot then runs as users run it (`productlane-slack`, socket mode) against the
loopback fakes, and people open their Home: ``--opens`` of them one at a time, then ``--burst`` at
once, each a person opening it for the first time (their users.info not cached yet).

Printed: the time from the event sent to the `views.publish` call arriving at Slack, p50/p99/max,
for each phase, and how many blocks the Homes held. The goal: p99 < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.bench_ack import ENTRY_POINT, bot_environment, customer_message, start, wait_until
from bot.delivery.outbox import EncodedJson
from bot.delivery.schema import items
from bot.feedback.form import FeedbackForm
from bot.feedback.source import source_from_message_shortcut
from bot.feedback.submission import Submission
from bot.slack.ids import MESSAGE_SHORTCUT
from bot.updates.schema import links, threads
from bot.updates.store import UpdatesStore
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.fakes.slack_home import app_home_opened_payload

BATCH = 2000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<34} n={len(values):<4} p50={statistics.median(values):7.1f} ms"
        f"  p99={percentile(values, 0.99):7.1f} ms  max={max(values):7.1f} ms"
    )


def person_id(index: int) -> str:
    return f"U0P{index:07d}"


def add_people(slack: FakeSlack, people: int) -> None:
    for index in range(people):
        name = f"person{index}"
        slack.web.add_user(
            {
                "id": person_id(index),
                "team_id": TEAM_ID,
                "name": name,
                "real_name": name.title(),
                "is_bot": False,
                "is_admin": index % 50 == 0,
                "profile": {"real_name": name.title(), "display_name": name, "email": f"{name}@acme.example"},
            }
        )


def fill(database_url: str, slack: FakeSlack, total: int, people: int) -> float:
    """``total`` items from ``people`` people, as the bot stores them; seconds it took."""
    started = time.monotonic()
    shortcut = slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=customer_message(slack, 0, 4))
    source = source_from_message_shortcut(shortcut)
    now = datetime.now(UTC)
    template = Submission(
        key="view:0",
        submitter_id=person_id(0),
        form=FeedbackForm(title="Export to CSV times out", contact_email="jane@customer.example"),
        source=source,
        submitted_at=now,
    ).model_dump(mode="json")
    rng = random.Random(16)
    with outbox_at(database_url) as outbox:
        UpdatesStore(outbox.database)  # its tables
        with outbox.database.writing() as conn:
            for table in (links, threads, items):
                conn.execute(sa.delete(table))
        for first in range(0, total, BATCH):
            item_rows: list[dict[str, Any]] = []
            thread_rows: list[dict[str, Any]] = []
            link_rows: list[dict[str, Any]] = []
            for index in range(first, min(total, first + BATCH)):
                who = person_id(index % people)
                at = now - timedelta(seconds=total - index)
                payload = dict(template)
                payload["key"] = f"view:V{index:09d}"
                payload["submitter_id"] = who
                payload["form"] = {**template["form"], "title": f"Export to CSV times out ({index})"}
                payload["source"] = {**template["source"], "ts": f"{1764000000 + index}.000100"}
                roll = rng.random()
                status, result = "delivered", None
                if roll < 0.01:
                    status = "failed"
                elif roll < 0.03:
                    status = "pending"
                else:
                    thread_id = f"th_{index:09d}"
                    url = f"https://productlane.test/feedback/{thread_id}"
                    result = {"thread_id": thread_id, "url": url, "status": "open", "reply": None}
                    confirmation = {"thread_url": url, "title": payload["form"]["title"], "submitter_id": who}
                    thread_rows.append(
                        {
                            "thread_id": thread_id,
                            "channel_id": "C0FEEDBACK",
                            "thread_ts": payload["source"]["ts"],
                            "reply_channel_id": "C0FEEDBACK",
                            "reply_ts": f"{1764000000 + index}.000200",
                            "is_slack_connect": False,
                            "confirmation": confirmation,
                            "status": rng.choice(("open", "open", "snoozed", "done")),
                            "status_as_of": at,
                            "done_reached": False,
                            "shipped_reached": False,
                            "remembered_at": at,
                            "updated_at": at,
                            "next_poll_at": at,
                        }
                    )
                    if index % 10 == 0:
                        link_rows.append(
                            {
                                "need_id": f"need_{index}",
                                "thread_id": thread_id,
                                "issue_id": f"iss_{index % 300}",
                                "project_id": None,
                                "issue_name": f"CSV export v{index % 300}",
                                "project_name": None,
                                "removed": False,
                                "completed": False,
                                "created_at": at,
                            }
                        )
                item_rows.append(
                    {
                        "dedupe_key": payload["key"],
                        "kind": "create_thread",
                        "payload": EncodedJson(json.dumps(payload)),
                        "status": status,
                        "attempts": 1 if status != "pending" else 0,
                        "created_at": at,
                        "updated_at": at,
                        "next_attempt_at": at,
                        "last_error": "Validation failed" if status == "failed" else None,
                        "result": result,
                        "delayed_notice_sent": False,
                        "submitter_id": who,
                    }
                )
            with outbox.database.writing() as conn:
                conn.execute(sa.insert(items), item_rows)
                if thread_rows:
                    conn.execute(sa.insert(threads), thread_rows)
                if link_rows:
                    conn.execute(sa.insert(links), link_rows)
        if outbox.database.engine.dialect.name == "postgresql":
            with outbox.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    return time.monotonic() - started


def open_homes(slack: FakeSlack, users: list[str], *, at_once: bool) -> tuple[list[float], list[int]]:
    """Each person opens their Home: ms from the event sent to views.publish arriving, and the
    number of blocks each Home held."""
    sent: dict[str, float] = {}
    envelopes = []
    for user_id in users:
        sent[user_id] = time.monotonic()
        envelope = slack.socket.send_envelope("events_api", app_home_opened_payload(slack, user_id))
        envelopes.append(envelope)
        if not at_once:
            slack.socket.wait_ack(envelope, timeout=10)
            wait_until(lambda u=user_id: published(slack, u), 10, f"the Home of {user_id}")
    for envelope in envelopes:
        slack.socket.wait_ack(envelope, timeout=30)
    wait_until(lambda: all(published(slack, u) for u in users), 60, "every Home")
    latencies, blocks = [], []
    for user_id in users:
        call = published(slack, user_id)
        assert call is not None
        latencies.append((call.time - sent[user_id]) * 1000)
        blocks.append(len(call.params["view"]["blocks"]))
    return latencies, blocks


def published(slack: FakeSlack, user_id: str) -> Any:
    for call in slack.web.calls("views.publish"):
        if call.params.get("user_id") == user_id:
            if not call.response.get("ok"):
                raise SystemExit(f"views.publish refused: {call.response}")
            return call
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--opens", type=int, default=200, help="people opening their Home one at a time")
    parser.add_argument("--burst", type=int, default=50, help="then this many at once")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    if args.opens + args.burst > args.people:
        raise SystemExit("--opens + --burst must not exceed --people (each opens once, uncached)")
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    database_url = args.database_url or f"sqlite:///{home / 'outbox.db'}"

    with FakeSlack() as slack, FakeProductlane() as productlane:
        add_people(slack, args.people)
        filled = fill(database_url, slack, args.items, args.people)
        env = bot_environment(
            slack,
            productlane,
            database_url,
            # Delivery must not compete: nothing waiting is sent (Productlane answers slowly).
            PRODUCTLANE_POLL_SECONDS="0",
        )
        productlane.delay(30, method="POST", path="/threads")
        bot = start([str(ENTRY_POINT)], env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=60)
            time.sleep(1.0)
            people = random.Random(7).sample(range(args.people), args.opens + args.burst)
            users = [person_id(index) for index in people]
            one_by_one, blocks = open_homes(slack, users[: args.opens], at_once=False)
            burst, burst_blocks = open_homes(slack, users[args.opens :], at_once=True)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

    backend = sa.make_url(database_url).get_backend_name()
    print(
        f"{args.items:,} outbox items from {args.people:,} people ({args.items // args.people} each) on "
        f"{backend}, filled in {filled:.0f} s; Homes of {min(blocks + burst_blocks)}–"
        f"{max(blocks + burst_blocks)} blocks"
    )
    print(summary("app_home_opened → views.publish", one_by_one))
    print(summary(f"the same, {args.burst} at once", burst))
    worst = percentile(one_by_one, 0.99)
    print(f"p99 one at a time: {worst:.1f} ms (goal < 300 ms)")


if __name__ == "__main__":
    main()

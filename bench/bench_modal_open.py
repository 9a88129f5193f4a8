"""How fast the feedback modal opens on the main path — the message shortcut on a real-size customer
message — with the triage fields served from a full-size catalog.

    uv run python -m bench.bench_modal_open [--opens 60] [--paragraphs 4] [--no-catalog]

The bot runs as a user runs it (`productlane-slack`, socket mode, loopback fakes). With the catalog
(the default), the fake Productlane holds 5,000 issues, 500 projects, 3,000 companies, 300 tags and
200 members and the key may read them; the modal is opened once the catalog is loaded. Each
shortcut is on a message of its own, `--paragraphs` paragraphs long, by an author whose details are
looked up afresh (Slack's answer is not cached), so the modal's fill-in (`views.update`: the
author's email and name, and the company found from that email) runs as it does for a new author.
Printed: from sending the envelope to Slack receiving `views.open` (the modal on screen), and to its
`views.update` (the fill-in), p50/p99/max. Run it on a commit from before the triage fields for the "before"
figure (`--no-catalog` there: its fake has no catalog).
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_ack import bot_environment, customer_message, percentile, wait_until
from bench.triage_workspace import SCOPES, SIZES, seed_workspace
from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"


def new_author(slack: FakeSlack, index: int) -> str:
    """A customer at customer{index % 50}.example, so the company found varies."""
    user_id = f"U0AUTH{index:04d}"
    slack.web.add_user(
        {
            "id": user_id,
            "team_id": "T0ACME0001",
            "name": f"author{index}",
            "real_name": f"Author {index}",
            "is_bot": False,
            "profile": {
                "real_name": f"Author {index}",
                "display_name": f"author{index}",
                "email": f"author{index}@company{index % 50 + 1}.example",
            },
        }
    )
    return user_id


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<34} n={len(values):<4} p50={statistics.median(values):7.2f} ms"
        f"  p99={percentile(values, 0.99):7.2f} ms  max={max(values):7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=60)
    parser.add_argument("--paragraphs", type=int, default=4)
    parser.add_argument("--no-catalog", action="store_true", help="a key that reads no list (or the old bot)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-modal-"))
    with_catalog = not args.no_catalog
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        if with_catalog:
            seed_workspace(productlane, random.Random(14))
        env = bot_environment(
            slack,
            productlane,
            f"sqlite:///{home / 'outbox.db'}",
            LOG_LEVEL="INFO",
        )
        log = home / "bot.log"
        with log.open("wb") as output:
            bot = subprocess.Popen(
                [str(ENTRY_POINT)], env=env, cwd=home, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            slack.socket.wait_connected(timeout=30)
            if with_catalog:
                wait_until(
                    lambda: all(f"catalog: {kind} refreshed" in log.read_text() for kind in SIZES),
                    180,
                    "the catalog to load",
                )
            time.sleep(1.0)
            opened: list[float] = []
            filled: list[float] = []
            companies = 0
            for index in range(args.opens):
                message: dict[str, Any] = customer_message(slack, index, args.paragraphs)
                message["user"] = new_author(slack, index)
                payload = slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=message)
                opens, updates = len(slack.web.calls("views.open")), len(slack.web.calls("views.update"))
                sent = time.monotonic()
                slack.socket.send_envelope("interactive", payload)
                wait_until(lambda n=opens: len(slack.web.calls("views.open")) > n, 10, "views.open")
                wait_until(lambda n=updates: len(slack.web.calls("views.update")) > n, 10, "views.update")
                opened.append((slack.web.calls("views.open")[opens].time - sent) * 1000)
                update = slack.web.calls("views.update")[updates]
                filled.append((update.time - sent) * 1000)
                companies += any(
                    str(block.get("block_id", "")).startswith("company")
                    and "initial_option" in block["element"]
                    for block in (update.params.get("view") or {}).get("blocks", [])
                )
                time.sleep(0.05)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
    what = "full-size catalog" if with_catalog else "no catalog"
    print(f"message shortcut on a {args.paragraphs}-paragraph message, a new author each time; {what}")
    print(summary("envelope → views.open (on screen)", opened))
    print(summary("envelope → views.update (filled)", filled))
    if with_catalog:
        print(f"modals whose company was found from the author's email: {companies}/{args.opens}")


if __name__ == "__main__":
    main()

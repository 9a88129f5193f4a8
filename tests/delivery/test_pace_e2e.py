"""The running bot writes to Productlane at PRODUCTLANE_WRITES_PER_MINUTE, whatever is waiting: an
operator who shares the key with another integration gives the bot part of the budget."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import bot_environment, interact, opened_view, start_bot, submit, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SUBMISSIONS = 3


def test_a_smaller_share_of_the_key_spaces_the_writes_out_to_it(tmp_path: Path) -> None:
    # Two thirds of Productlane's 60: a write every 1.5 s, where the default would send one a second.
    writes_per_minute = 40
    with FakeSlack() as slack, FakeProductlane() as productlane:
        # The first create gets no answer until every submission waits: the one sender an idle bot
        # holds is busy with it, so the pace, not the submitting, spaces the others.
        productlane.hold(method="POST", path="/threads")
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        env["PRODUCTLANE_WRITES_PER_MINUTE"] = str(writes_per_minute)
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            wait_until(lambda: "connected to Slack" in world.log_text(), "the bot to connect", timeout=30)
            first_submitted = time.time()
            for index in range(SUBMISSIONS):
                mark = time.monotonic()
                interact(world, slack.global_shortcut_payload(GLOBAL_SHORTCUT))
                ack = submit(
                    world,
                    opened_view(world, mark),
                    {"feedback": f"Paced {index}", "contact_email": "jane@customer.example"},
                )
                assert not ack.get("payload"), ack
            wait_until(lambda: productlane.post_count == 1, "the first create")
            released = time.time()
            productlane.release()
            wait_until(lambda: productlane.created_count == SUBMISSIONS, "every thread", timeout=60)
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
    assert world.bot.returncode == 0, world.log_text()
    assert sorted(thread["title"] for thread in productlane.threads) == [
        f"Paced {index}" for index in range(SUBMISSIONS)
    ]
    arrivals = [request.time for request in productlane.requests_to("POST", "/threads")]
    assert len(arrivals) == SUBMISSIONS
    # The shared limiter hands out a slot every 60 / 40 = 1.5 s; at the default 60 a minute it would
    # be 1 s. A request reaches Productlane after its slot (a busy machine only adds to that), and the
    # first slot comes after the first submission: the last create arrives at least (n - 1) slots
    # after it, 3 s here, where the default pace would allow 2 s.
    interval = 60 / writes_per_minute
    assert arrivals[-1] - first_submitted >= (SUBMISSIONS - 1) * interval, (first_submitted, arrivals)
    # Nor can slow submitting have spaced them: the creates after the first wait for its answer,
    # so their slots all come after the release, and still (n - 2) slots on: 1.5 s, against 1 s.
    assert arrivals[-1] - released >= (SUBMISSIONS - 2) * interval, (released, arrivals)

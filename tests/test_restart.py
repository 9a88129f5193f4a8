"""Restart safety: `kill -9` the bot while it delivers a batch, start it again, and every acked
submission ends up in Productlane exactly once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.pace import TEST_LEASE_SECONDS
from tests.running_bot import (
    World,
    bot_environment,
    interact,
    opened_view,
    outbox_settled,
    start_bot,
    submit,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

BATCH = 12


def start_connected(slack: FakeSlack, productlane: FakeProductlane, home: Path, log_name: str) -> World:
    env = bot_environment(slack, productlane, home / "outbox.db")
    env["DELIVERY_LEASE_SECONDS"] = str(TEST_LEASE_SECONDS)
    world = start_bot(slack, productlane, env, home, home / log_name)
    wait_until(lambda: "connected to Slack" in world.log_text(), "the bot to connect", timeout=30)
    return world


def test_sigkill_mid_batch_then_restart_delivers_each_submission_once(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        # Every submission is accepted before the first send gets an answer; then each answer takes a
        # while, so that the kill lands with some delivered, some in flight and some not yet sent.
        productlane.hold(method="POST", path="/threads")
        productlane.delay(0.4, method="POST", path="/threads")
        first = start_connected(slack, productlane, tmp_path, "first.log")
        try:
            for index in range(BATCH):
                mark = time.monotonic()
                interact(first, slack.global_shortcut_payload(GLOBAL_SHORTCUT))
                view = opened_view(first, mark)
                ack = submit(
                    first,
                    view,
                    {"feedback": f"Item {index}", "contact_email": "jane@customer.example"},
                )
                assert not ack.get("payload"), ack
            productlane.release()
            wait_until(lambda: productlane.created_count >= 3, "a few deliveries to be made")
        finally:
            first.bot.send_signal(signal.SIGKILL)
            first.bot.wait(timeout=10)
        delivered_before_kill = productlane.created_count
        assert delivered_before_kill < BATCH, "the kill came too late to prove anything"

        second = start_connected(slack, productlane, tmp_path, "second.log")
        try:
            wait_until(
                lambda: (
                    {thread["title"] for thread in productlane.threads}
                    >= {f"Item {index}" for index in range(BATCH)}
                ),
                "every submission to be delivered",
                timeout=60,
            )
            outbox_settled(tmp_path / "outbox.db")  # nothing left that could send a duplicate
        finally:
            second.bot.send_signal(signal.SIGTERM)
            second.bot.wait(timeout=30)
        titles = sorted(thread["title"] for thread in productlane.threads)
        assert titles == sorted(f"Item {index}" for index in range(BATCH))
        assert second.bot.returncode == 0

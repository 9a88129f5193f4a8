"""End to end, LOG_FORMAT=json: the real `productlane-slack` process writes one JSON object a line —
from start to stop, its own entries and its libraries' — and a delivery's entries carry the outbox
item's id and Productlane's request id, never a token, a key or what the customer wrote."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import bot_environment, interact, opened_view, start_bot, submit, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def test_json_logs_are_one_object_a_line_with_the_item_and_the_request_id(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db") | {"LOG_FORMAT": "json"}
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "connected to Slack" in world.log_text(), "the connected line", 30)
            mark = time.monotonic()
            interact(world, slack.message_shortcut_payload(MESSAGE_SHORTCUT))
            submit(world, opened_view(world, mark, refreshed=True), {"title": "Confidential: CSV export"})
            wait_until(lambda: "delivered as thread" in world.log_text(), "the delivery", 30)
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
        thread_id = productlane.threads[-1]["id"]

    text = world.log_text()
    lines = [line for line in text.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line: one JSON object
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    assert entries[-1]["message"] == "stopped"
    delivered = next(e for e in entries if e["message"] == f"item 1 delivered as thread {thread_id}")
    assert delivered["outbox_item_id"] == 1
    created = next(
        e for e in entries if str(e["message"]).startswith("productlane POST /api/v2/threads -> 201")
    )
    assert created["outbox_item_id"] == 1
    assert str(created["productlane_request_id"]).startswith("req_")  # the fake's X-Request-Id
    assert f"request_id={created['productlane_request_id']}" in str(created["message"])
    for private in (slack.bot_token, slack.app_token, productlane.api_key, "Confidential", "Export to CSV"):
        assert private not in text

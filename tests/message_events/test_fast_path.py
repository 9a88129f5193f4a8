"""The real process receives every message of every channel it is in (`message.*`): each is acked at
once and dropped without reaching Bolt, in socket mode and in HTTP mode, and the rest of the bot
goes on working beside them."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import World, bot_environment, interact, opened_view, start_bot, wait_until
from tests.web.client import SIGNING_SECRET, request, signed_headers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

KINDS = (
    *("top_level_by_person", "thread_reply_by_person", "reply_with_file", "bot_message", "own_reply"),
    *("message_changed", "message_deleted", "channel_join"),
)


@pytest.fixture
def socket_bot(tmp_path: Path) -> Iterator[World]:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "connected to Slack" in world.log_text(), "the connected line")
            yield world
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
    assert world.bot.returncode == 0, world.log_text()


def test_channel_messages_are_acked_at_once_and_never_reach_bolt(socket_bot: World) -> None:
    slack = socket_bot.slack
    envelopes = [
        slack.socket.send_envelope("events_api", slack.message_event_payload(KINDS[index % len(KINDS)]))
        for index in range(240)
    ]
    acks = [slack.socket.wait_ack(envelope, timeout=30) for envelope in envelopes]
    # Each acked with nothing but its envelope id (how fast: bench/bench_messages.py).
    assert [ack for ack in acks if set(ack) != {"envelope_id"}] == []
    assert len(acks) == 240

    # The rest of the bot is unaffected: a shortcut still opens the modal.
    mark = time.monotonic()
    interact(socket_bot, slack.global_shortcut_payload(GLOBAL_SHORTCUT))
    assert opened_view(socket_bot, mark)["callback_id"]
    log = socket_bot.log_text()
    assert "Unhandled request" not in log
    assert "keeping a channel message" not in log


def test_in_http_mode_a_signed_message_is_answered_and_a_forged_one_refused(tmp_path: Path) -> None:
    from tests.web.test_http_mode import start_http_bot, stop

    with FakeSlack() as slack, FakeProductlane() as productlane:
        bot = start_http_bot(slack, productlane, tmp_path)
        try:
            body = json.dumps(slack.message_event_payload("thread_reply_by_person")).encode()
            json_type = {"Content-Type": "application/json"}
            answer = request(bot.port, "POST", "/slack/events", body, signed_headers(body) | json_type)
            forged = signed_headers(body, secret="not-" + SIGNING_SECRET) | json_type
            refused = request(bot.port, "POST", "/slack/events", body, forged)
            stale = signed_headers(body, timestamp=int(time.time()) - 600) | json_type
            too_old = request(bot.port, "POST", "/slack/events", body, stale)
        finally:
            exit_status = stop(bot)
    assert (answer.status, refused.status, too_old.status) == (200, 401, 401)
    log = bot.world.log_text()
    assert "Unhandled request" not in log
    assert exit_status == 0, log

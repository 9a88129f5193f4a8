"""Production (HTTP) mode: without SLACK_APP_TOKEN the bot serves Slack's signed requests on PORT."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import bot_environment, start_bot, wait_until

pytestmark = pytest.mark.timeout(90)

SIGNING_SECRET = "test-signing-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    request = Request(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers)
    try:
        with urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except HTTPError as error:
        return int(error.code)


def test_signed_requests_are_served_and_unsigned_ones_refused(tmp_path: Path) -> None:
    port = free_port()
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        del env["SLACK_APP_TOKEN"]
        env |= {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": str(port)}
        log = tmp_path / "bot.log"
        bot = start_bot(slack, productlane, env, tmp_path, log).bot
        try:
            wait_until(lambda: "HTTP mode on port" in log.read_text(), "the bot to listen", 30)
            body = urlencode({"payload": json.dumps(slack.global_shortcut_payload(GLOBAL_SHORTCUT))}).encode()
            timestamp = str(int(time.time()))
            signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
            assert signature is not None
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            signed = form | {
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": signature,
            }
            wait_until(lambda: _listening(port), "the port to open", 30)
            assert post(port, body, signed) == 200
            slack.web.wait_for_call("views.open", timeout=10)
            forged = form | {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=bad"}
            assert post(port, body, forged) == 401
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=30)
        assert bot.returncode == 0, log.read_text()
        assert "stopped" in log.read_text()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0

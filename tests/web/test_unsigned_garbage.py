"""Garbage at the bot's doors (HTTP mode): a request without a valid signature, with a timestamp that
is not a number, or with a body nested a hundred thousand deep is refused with a 4xx before anything
in it is read, and the log says so in one WARNING line, never an ERROR or a traceback. A body
Slack or Productlane did sign but that cannot be read is refused too (4xx), and what was accepted
before goes on being served."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_webhooks import signed_headers as productlane_signed_headers
from tests.fakes.slack import FakeSlack
from tests.running_bot import wait_until
from tests.web.client import FORM, SIGNING_SECRET, payload_body, post_signed, request, signed_headers
from tests.web.test_http_mode import HttpBot, start_http_bot, stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120), pytest.mark.xdist_group("web.test_unsigned_garbage")]

WEBHOOK_SECRET = "test-webhook-secret"
WEBHOOKS = "/productlane/webhooks"
SLACK_EVENTS = "/slack/events"
JSON = {"Content-Type": "application/json"}
DEEP = 100_000


@pytest.fixture(scope="module")
def http_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpBot]:
    home = tmp_path_factory.mktemp("garbage-bot")
    with FakeSlack() as slack, FakeProductlane() as productlane:
        bot = start_http_bot(slack, productlane, home, PRODUCTLANE_WEBHOOK_SECRET=WEBHOOK_SECRET)
        try:
            yield bot
        finally:
            assert stop(bot) == 0, bot.world.log_text()
    secrets = (slack.bot_token, productlane.api_key, SIGNING_SECRET, WEBHOOK_SECRET)
    assert not [secret for secret in secrets if secret in bot.world.log_text()]


def signed_raw(body: bytes, content_type: dict[str, str]) -> dict[str, str]:
    """Slack's signature over the raw bytes, whatever they are (UTF-8 or not)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return content_type | {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def log_since(bot: HttpBot, offset: int) -> str:
    return bot.world.log_text()[offset:]


def assert_quiet_refusals(bot: HttpBot, offset: int, refusals: int) -> None:
    """One WARNING line for each refusal, and nothing louder."""
    wait_until(lambda: log_since(bot, offset).count("refused a") >= refusals, "a line for each refusal")
    log = log_since(bot, offset)
    assert "ERROR" not in log, log
    assert "Traceback" not in log, log


def deep_json(depth: int = DEEP) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def deep_list(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def test_unsigned_and_malformed_slack_requests_get_a_4xx_and_no_traceback(http_bot: HttpBot) -> None:
    slack = http_bot.slack
    offset = len(http_bot.world.log_text())
    shortcut = payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT))
    event = json.dumps(slack.message_event_payload()).encode()
    signed = signed_headers(shortcut)
    stamp, signature = signed["X-Slack-Request-Timestamp"], signed["X-Slack-Signature"]

    def post(body: bytes, headers: dict[str, str]) -> int:
        return request(http_bot.port, "POST", SLACK_EVENTS, body, headers).status

    statuses = {
        "no timestamp": post(shortcut, FORM | {"X-Slack-Signature": signature}),
        "an empty timestamp": post(
            shortcut, FORM | {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": signature}
        ),
        "a timestamp that is not a number": post(
            shortcut, FORM | {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": signature}
        ),
        "a huge timestamp": post(
            shortcut, FORM | {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": signature}
        ),
        "no signature": post(shortcut, FORM | {"X-Slack-Request-Timestamp": stamp}),
        "a bad signature": post(
            shortcut, FORM | {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=00"}
        ),
        "a signature that is not ASCII": post(
            shortcut, FORM | {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=é" * 20}
        ),
        "a message event, no timestamp": post(event, JSON | {"X-Slack-Signature": signature}),
        "a message event, bad timestamp": post(
            event, JSON | {"X-Slack-Request-Timestamp": "x", "X-Slack-Signature": "v0=1"}
        ),
        "deep JSON, unsigned": post(deep_json(), JSON),
        "deep JSON, no timestamp": post(deep_json(), JSON | {"X-Slack-Signature": signature}),
        "a deep list, unsigned": post(deep_list(), JSON),
        "a deep form payload, unsigned": post(b"payload=" + deep_list(), FORM),
        "not UTF-8, unsigned": post(b"\xff\xfe{", JSON),
    }
    assert {what: status for what, status in statuses.items() if status != 401} == {}
    assert_quiet_refusals(http_bot, offset, len(statuses))


def test_a_signed_body_that_cannot_be_read_gets_a_4xx_and_no_traceback(http_bot: HttpBot) -> None:
    offset = len(http_bot.world.log_text())
    bodies = {
        "deep JSON": deep_json(),
        "a deep list": deep_list(),
        "a deep JSON message event": b'{"type":"event_callback","event":{"type":"message","x":'
        + deep_list()
        + b"}}",
        "a deep form payload": b"payload=" + deep_list(),
        "a message event a few hundred deep": b'{"type":"event_callback","event":{"type":"message","x":'
        + deep_list(500)
        + b"}}",
        "a shortcut a few hundred deep": b"payload=" + b'{"type":"shortcut","x":' + deep_list(500) + b"}",
        "a JSON list": b"[1, 2]",
        "a form payload that is a list": b"payload=%5B1%5D",
        "a form payload that is not JSON": b"payload=%7B%7B",
        "JSON that is not JSON": b"{not json",
        "not UTF-8": b"\xff\xfe{",
    }
    statuses = {}
    for what, body in bodies.items():
        content_type = FORM if body.startswith(b"payload=") else JSON

        headers = signed_raw(body, content_type)
        statuses[what] = request(http_bot.port, "POST", SLACK_EVENTS, body, headers).status
    assert {what: status for what, status in statuses.items() if not 400 <= status < 500} == {}
    assert_quiet_refusals(http_bot, offset, len(statuses))
    # What Slack signs and means is still served.
    shortcut = payload_body(http_bot.slack.global_shortcut_payload(GLOBAL_SHORTCUT))
    assert post_signed(http_bot.port, shortcut).status == 200


def test_unsigned_and_malformed_webhooks_get_a_4xx_and_no_traceback(http_bot: HttpBot) -> None:
    offset = len(http_bot.world.log_text())
    event = b'{"id":"evt_1","type":"thread.updated","data":{}}'

    def post(body: bytes, headers: dict[str, str]) -> int:
        return request(http_bot.port, "POST", WEBHOOKS, body, headers).status

    def signed(body: bytes, timestamp: int | None = None) -> dict[str, str]:
        return JSON | productlane_signed_headers(
            body, WEBHOOK_SECRET, event_type="thread.updated", event_id="evt_1", timestamp=timestamp
        )

    unsigned = {
        "no signature": post(event, JSON),
        "a bad signature": post(
            event, JSON | {"Productlane-Signature": f"t={int(time.time())},v1={'0' * 64}"}
        ),
        "no timestamp": post(event, JSON | {"Productlane-Signature": f"v1={'0' * 64}"}),
        "a timestamp that is not a number": post(event, JSON | {"Productlane-Signature": "t=soon,v1=ab"}),
        "a stale signature": post(event, signed(event, timestamp=int(time.time()) - 3600)),
        "deep JSON, unsigned": post(deep_json(), JSON),
    }
    assert {what: status for what, status in unsigned.items() if status != 401} == {}
    signed_garbage = {
        "deep JSON": post(deep_json(), signed(deep_json())),
        "a deep list": post(deep_list(), signed(deep_list())),
        "deep data": post(
            b'{"id":"evt_2","type":"thread.updated","data":' + deep_json() + b"}",
            signed(b'{"id":"evt_2","type":"thread.updated","data":' + deep_json() + b"}"),
        ),
        "data a few hundred deep": post(
            b'{"id":"evt_3","type":"thread.updated","data":' + deep_json(500) + b"}",
            signed(b'{"id":"evt_3","type":"thread.updated","data":' + deep_json(500) + b"}"),
        ),
        "not JSON": post(b"{not json", signed(b"{not json")),
        "not UTF-8": post(b"\xff\xfe{", signed(b"\xff\xfe{")),
    }
    assert {what: status for what, status in signed_garbage.items() if status != 400} == {}
    assert_quiet_refusals(http_bot, offset, len(unsigned) + len(signed_garbage))

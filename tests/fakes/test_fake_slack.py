"""The loopback Slack fakes behave as slack_sdk and slack_bolt expect of Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.fakes.slack import (
    DEFAULT_SCOPES,
    RESPONSE_URL,
    FakeSlack,
    FakeSocketModeServer,
    load_fixture,
)

pytestmark = pytest.mark.timeout(30)

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "feedback_modal",
    "private_metadata": '{"channel": "C0FEEDBACK"}',
    "title": {"type": "plain_text", "text": "Send to Productlane"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title_block",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {
                "type": "plain_text_input",
                "action_id": "title",
                "initial_value": "Export times out",
            },
        },
        {
            "type": "input",
            "block_id": "email_block",
            "label": {"type": "plain_text", "text": "Email"},
            "element": {"type": "email_text_input", "action_id": "email"},
        },
        {
            "type": "input",
            "block_id": "pain_block",
            "label": {"type": "plain_text", "text": "Pain"},
            "element": {
                "type": "static_select",
                "action_id": "pain",
                "options": [
                    {"text": {"type": "plain_text", "text": "Low"}, "value": "LOW"},
                    {"text": {"type": "plain_text", "text": "High"}, "value": "HIGH"},
                ],
            },
        },
    ],
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk reads HTTP(S)_PROXY and ignores NO_PROXY: loopback traffic would go to the proxy.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
    assert fake.web.errors == []


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(base_url=slack.api_url, token=slack.bot_token)


# ------------------------------------------------------------------------------ Web API


def test_auth_test_answers_the_bot_identity_and_granted_scopes(slack: FakeSlack, client: WebClient) -> None:
    response = client.auth_test()

    assert response["ok"] is True
    assert response["team_id"] == "T0ACME0001"
    assert response["bot_id"].startswith("B")
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["x-oauth-scopes"].split(",") == list(DEFAULT_SCOPES)
    call = slack.web.wait_for_call("auth.test")
    assert call.token == slack.bot_token


def test_wrong_or_missing_token_is_refused(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(base_url=slack.api_url, token="xoxb-wrong").auth_test()
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=slack.api_url).auth_test()
    with pytest.raises(SlackApiError) as bot_token_for_socket:
        WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.bot_token)

    assert wrong.value.response["error"] == "invalid_auth"
    assert missing.value.response["error"] == "not_authed"
    assert bot_token_for_socket.value.response["error"] == "invalid_auth"


def test_apps_connections_open_points_at_the_socket_server(slack: FakeSlack) -> None:
    url = WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)["url"]

    assert url.startswith(f"ws://127.0.0.1:{slack.socket.port}/link/?ticket=")


def test_default_lookups(slack: FakeSlack, client: WebClient) -> None:
    jane = client.users_info(user="U0CUST0003")["user"]
    channel = client.conversations_info(channel="C0FEEDBACK")["channel"]
    dm = client.conversations_open(users="U0CSM0002")["channel"]["id"]
    permalink = client.chat_getPermalink(channel="C0FEEDBACK", message_ts="1764252900.000100")

    assert jane == load_fixture("users_info_response")["user"]
    assert (channel["name"], channel["is_member"], channel["is_private"]) == (
        "customer-feedback",
        True,
        False,
    )
    assert dm.startswith("D")
    assert permalink["permalink"] == "https://acme.slack.com/archives/C0FEEDBACK/p1764252900000100"
    with pytest.raises(SlackApiError) as unknown:
        client.users_info(user="U0NOBODY")
    assert unknown.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as no_such_method:
        client.api_call("files.frobnicate")
    assert no_such_method.value.response["error"] == "unknown_method"


def test_scopes_shape_the_answers(slack: FakeSlack, client: WebClient) -> None:
    slack.web.scopes.remove("users:read.email")
    slack.web.scopes.remove("channels:read")

    jane = client.users_info(user="U0CUST0003")["user"]
    with pytest.raises(SlackApiError) as missing:
        client.conversations_info(channel="C0FEEDBACK")

    assert "email" not in jane["profile"]
    assert missing.value.response["error"] == "missing_scope"
    assert missing.value.response["needed"] == "channels:read"


def test_posting_follows_membership(slack: FakeSlack, client: WebClient) -> None:
    slack.web.add_channel("C0ELSEWHERE", "elsewhere", is_member=False)

    with pytest.raises(SlackApiError) as outside:
        client.chat_postMessage(channel="C0ELSEWHERE", text="hi")
    client.conversations_join(channel="C0ELSEWHERE")
    posted = client.chat_postMessage(channel="C0ELSEWHERE", text="hi", thread_ts="1.000100")

    assert outside.value.response["error"] == "not_in_channel"
    assert posted["channel"] == "C0ELSEWHERE"
    assert posted["message"]["thread_ts"] == "1.000100"


def test_views_update_honours_hash(slack: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id="1.2.abc", view=MODAL)["view"]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "feedback_modal"

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)["view"]
    with pytest.raises(SlackApiError) as stale:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)

    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert stale.value.response["error"] == "hash_conflict"
    assert slack.web.views[opened["id"]]["hash"] == updated["hash"]


def test_views_are_checked_like_slack_checks_them(client: WebClient) -> None:
    too_long = {**MODAL, "private_metadata": "x" * 3001}

    with pytest.raises(SlackApiError) as bad:
        client.views_open(trigger_id="1.2.abc", view=too_long)

    assert bad.value.response["error"] == "invalid_arguments"
    assert "private_metadata" in bad.value.response["response_metadata"]["messages"][0]


def test_configured_error_once_then_the_default(slack: FakeSlack, client: WebClient) -> None:
    slack.web.respond("chat.postMessage", {"ok": False, "error": "not_in_channel"}, times=1)

    with pytest.raises(SlackApiError) as first:
        client.chat_postMessage(channel="C0FEEDBACK", text="hello")
    second = client.chat_postMessage(channel="C0FEEDBACK", text="hello")

    assert first.value.response["error"] == "not_in_channel"
    assert second["ok"] is True
    assert [c.response["ok"] for c in slack.web.calls("chat.postMessage")] == [False, True]


def test_configured_status_headers_and_callable_body(slack: FakeSlack, client: WebClient) -> None:
    slack.web.respond(
        "users.info",
        {"ok": False, "error": "ratelimited"},
        status=429,
        headers={"Retry-After": "7"},
        times=1,
    )
    slack.web.respond("users.info", lambda call: {"ok": True, "user": {"id": call.params["user"]}})

    with pytest.raises(SlackApiError) as limited:
        client.users_info(user="U0CUST0003")
    answered = client.users_info(user="U0ANYONE")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert answered["user"] == {"id": "U0ANYONE"}


def test_configured_delay_holds_the_answer_but_not_the_record(slack: FakeSlack, client: WebClient) -> None:
    slack.web.respond("users.info", {"ok": True, "user": {"id": "U1"}}, delay=0.2, times=1)

    started = time.monotonic()
    client.users_info(user="U1")
    answered = time.monotonic()

    call = slack.web.wait_for_call("users.info")
    assert answered - started >= 0.2
    # Recorded on arrival, answered later: the delay lies between the record and the answer.
    assert started <= call.time <= answered - 0.2


def test_a_slow_method_keeps_its_default_answer(slack: FakeSlack, client: WebClient) -> None:
    slack.web.delay("views.open", 0.2)

    started = time.monotonic()
    opened = client.views_open(trigger_id="1.2.3", view=MODAL)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.2
    assert slack.web.views[opened["view"]["id"]]["callback_id"] == "feedback_modal"


def test_short_client_timeout_against_a_slow_answer(slack: FakeSlack) -> None:
    slack.web.respond("users.info", {"ok": True}, delay=2.0)
    # slack_sdk types the timeout as whole seconds; urllib, which it hands it to, takes any number.
    impatient = WebClient(base_url=slack.api_url, token=slack.bot_token, timeout=0.2)  # type: ignore[arg-type]
    impatient.retry_handlers = []  # one attempt only

    with pytest.raises(TimeoutError):
        impatient.users_info(user="U1")


def test_form_encoded_json_fields_are_decoded_in_the_record(slack: FakeSlack, client: WebClient) -> None:
    view_json = json.dumps(MODAL)

    client.api_call(
        "views.open", params={"trigger_id": "1.2.abc", "view": view_json}
    )  # form-encoded, as slack_sdk sends view/blocks for several methods

    call = slack.web.wait_for_call("views.open")
    assert call.content_type.startswith("application/x-www-form-urlencoded")
    assert call.raw_params["view"] == view_json
    assert call.params["view"] == MODAL
    assert call.response["ok"] is True


def test_multipart_fields_and_files_are_recorded(slack: FakeSlack, client: WebClient) -> None:
    # A file's bytes come back exactly, even ones that look like a delimiter; text fields as text.
    data = b"\r\n--not-the-boundary\r\n\x00\xff" * 1000

    slack.web.respond("files.upload", {"ok": True})  # retired by Slack; here only the request matters

    client.api_call("files.upload", data={"channels": "C0FEEDBACK", "title": "Épure"}, files={"file": data})

    call = slack.web.wait_for_call("files.upload")
    assert call.content_type.startswith("multipart/form-data")
    assert call.raw_params["channels"] == "C0FEEDBACK"
    assert call.raw_params["title"] == "Épure"
    assert call.raw_params["file"] == data


def test_wait_for_call_with_predicate_and_clear(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C0FEEDBACK", text="one")
    client.chat_postMessage(channel="C0FEEDBACK", text="two")

    second = slack.web.wait_for_call("chat.postMessage", predicate=lambda c: c.params["text"] == "two")
    slack.web.clear()

    assert second.params["text"] == "two"
    assert slack.web.calls() == []
    with pytest.raises(TimeoutError, match=r"no chat\.postMessage call"):
        slack.web.wait_for_call("chat.postMessage", timeout=0.05)


def test_response_urls_are_served_and_recorded(slack: FakeSlack) -> None:
    payload = slack.slash_command_payload("/feedback", "hello")

    WebhookClient(payload["response_url"]).send(text="Sent to Productlane")

    call = slack.web.wait_for_call(RESPONSE_URL)
    assert call.params["text"] == "Sent to Productlane"


# ------------------------------------------------------------------------------ payloads


def test_view_submission_payload_uses_the_view_as_the_bot_opened_it(
    slack: FakeSlack, client: WebClient
) -> None:
    opened = client.views_open(trigger_id="1.2.abc", view=MODAL)["view"]

    payload = slack.view_submission_payload(
        opened["id"],
        {"email_block": {"email": "jane@customer.example"}, "pain_block": {"pain": "HIGH"}},
    )

    view = payload["view"]
    assert payload["type"] == "view_submission"
    assert (view["id"], view["hash"], view["callback_id"], view["private_metadata"]) == (
        opened["id"],
        opened["hash"],
        "feedback_modal",
        MODAL["private_metadata"],
    )
    assert view["blocks"] == MODAL["blocks"]
    assert view["state"]["values"] == {
        "title_block": {"title": {"type": "plain_text_input", "value": "Export times out"}},
        "email_block": {"email": {"type": "email_text_input", "value": "jane@customer.example"}},
        "pain_block": {
            "pain": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "High"},
                    "value": "HIGH",
                },
            }
        },
    }
    with pytest.raises(KeyError, match="no element"):
        slack.view_submission_payload(opened["id"], {"nope": {"title": "x"}})


def test_other_payload_builders(slack: FakeSlack, client: WebClient) -> None:
    message = {"type": "message", "user": "U0CUST0003", "ts": "1.000200", "text": "hi"}
    opened = client.views_open(trigger_id="1.2.abc", view=MODAL)["view"]

    shortcut = slack.message_shortcut_payload("send", message=message, user="U0CSM0001")
    global_shortcut = slack.global_shortcut_payload("new")
    command = slack.slash_command_payload("/feedback", "text", channel_id="C0FEEDBACK")
    action = slack.block_actions_payload("pain", view=opened["id"], value="LOW")

    assert (shortcut["type"], shortcut["message_ts"], shortcut["user"]["name"]) == (
        "message_action",
        "1.000200",
        "sam",
    )
    assert global_shortcut["callback_id"] == "new"
    assert shortcut["trigger_id"] != global_shortcut["trigger_id"]
    assert (command["command"], command["channel_name"]) == ("/feedback", "customer-feedback")
    assert action["actions"][0]["selected_option"]["value"] == "LOW"
    assert action["container"] == {"type": "view", "view_id": opened["id"]}


# ------------------------------------------------------------------------------ socket mode


def test_socket_server_refuses_unknown_paths_and_tickets(slack: FakeSlack) -> None:
    base = f"ws://127.0.0.1:{slack.socket.port}"

    for url in (f"{base}/elsewhere", f"{base}/link/?ticket=forged"):
        with pytest.raises(InvalidStatus):
            connect(url, open_timeout=2)

    with connect(slack.socket.new_url(), open_timeout=2) as ws:
        hello = json.loads(ws.recv(timeout=2))
        envelope_id = slack.socket.send_envelope("events_api", {"type": "event_callback"})
        frame = json.loads(ws.recv(timeout=2))
        ws.send(json.dumps({"envelope_id": envelope_id}))
        assert slack.socket.wait_ack(envelope_id) == {"envelope_id": envelope_id}

    assert hello["type"] == "hello"
    assert hello["connection_info"]["app_id"] == "A0BOT00001"
    assert frame["accepts_response_payload"] is False
    assert frame["retry_attempt"] == 0
    assert slack.socket.ack_latency(envelope_id) >= 0
    assert [reason for _, reason in slack.socket.rejected] == ["unknown path", "unknown ticket"]


def test_socket_server_alone_shuts_down_with_a_client_attached() -> None:
    with FakeSocketModeServer() as server, connect(server.new_url(), open_timeout=2) as ws:
        ws.recv(timeout=2)
        server.wait_connected()
        server.close()
        server.wait_disconnected(timeout=2)


def test_bolt_app_over_socket_mode_end_to_end(slack: FakeSlack) -> None:
    app = App(
        client=WebClient(base_url=slack.api_url, token=slack.bot_token),
        token_verification_enabled=False,
    )

    @app.shortcut("send_to_productlane")
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("feedback_modal")
    def submitted(ack: Ack, view: dict[str, Any]) -> None:
        email = view["state"]["values"]["email_block"]["email"]["value"]
        if not email:
            ack(response_action="errors", errors={"email_block": "Who said it?"})
        else:
            ack()

    handler = SocketModeHandler(app, slack.app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        slack.socket.wait_connected()

        shortcut = slack.message_shortcut_payload("send_to_productlane")
        sent = time.monotonic()
        envelope_id = slack.socket.send_envelope("interactive", shortcut)
        assert slack.socket.wait_ack(envelope_id) == {"envelope_id": envelope_id}
        acked = time.monotonic()
        opened = slack.web.wait_for_call("views.open")
        assert opened.params["trigger_id"] == shortcut["trigger_id"]
        # The fake measures from sending the envelope to its ack: within what the test saw.
        assert 0 < slack.socket.ack_latency(envelope_id) <= acked - sent

        submission = slack.view_submission_payload(slack.web.last_view("feedback_modal"), {})
        envelope_id = slack.socket.send_envelope("interactive", submission)
        assert slack.socket.wait_ack(envelope_id)["payload"] == {
            "response_action": "errors",
            "errors": {"email_block": "Who said it?"},
        }

        # Slack asks the app to reconnect; the builtin client opens a fresh connection at once.
        slack.socket.send_disconnect()
        slack.socket.wait_connected(total=2)
        envelope_id = slack.socket.send_envelope("interactive", shortcut)
        assert slack.socket.wait_ack(envelope_id) == {"envelope_id": envelope_id}
        assert slack.socket.ack(envelope_id).connection == 2  # type: ignore[union-attr]
        assert len(slack.web.calls("apps.connections.open")) == 2
        assert slack.socket.pings_received >= 1
    finally:
        # slack_sdk's message processor looks whether its client closed only between waits on its
        # queue, up to a second each, and closing waits for it: marked closed, an empty message
        # (which it skips) wakes it now (the bot's own handler closes so too).
        handler.client.closed = True
        handler.client.message_queue.put(None)
        handler.close()  # type: ignore[no-untyped-call]
    slack.socket.wait_disconnected(timeout=3)

"""End to end: the bot runs as a user runs it — the `productlane-slack` command, configured
only by environment variables — against loopback Slack (Web API + socket mode) and Productlane,
driven by the socket-mode frames Slack would send.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.ids import (
    EDIT_AND_RESEND_ACTION,
    FEEDBACK_COMMAND,
    FEEDBACK_MODAL,
    GLOBAL_SHORTCUT,
    MESSAGE_SHORTCUT,
)
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlack, load_fixture, make_channel
from tests.running_bot import (
    THREAD_URL,
    World,
    bot_environment,
    by_field,
    count_rows,
    fresh_fakes,
    interact,
    opened_view,
    since,
    start_bot,
    submit,
    wait_until,
)

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120), pytest.mark.xdist_group("test_e2e")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("bot")
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, home / "outbox.db")
        world = start_bot(slack, productlane, env, home, home / "bot.log")
        bot = world.bot
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "connected to Slack" in world.log_text(), "the connected line")
            yield world
        finally:
            if bot.poll() is None:
                bot.send_signal(signal.SIGTERM)
                bot.wait(timeout=30)
    assert bot.returncode == 0, world.log_text()
    secrets = (slack.bot_token, slack.app_token, productlane.api_key)
    assert not [secret for secret in secrets if secret in world.log_text()]


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world.slack, world.productlane):
        yield


def posted(world: World, mark: float, method: str = "chat.postMessage", **match: Any) -> Call:
    def matches(call: Call) -> bool:
        return since(mark)(call) and all(call.params.get(k) == v for k, v in match.items())

    return world.slack.web.wait_for_call(method, timeout=15, predicate=matches)


def created_threads(world: World, mark: float) -> list[dict[str, Any]]:
    return [
        request.json
        for request in world.productlane.requests_to("POST", "/threads")
        if request.time >= time.time() - (time.monotonic() - mark) - 0.5 and request.status == 201
    ]


def message_shortcut(world: World, **message: Any) -> dict[str, Any]:
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT)
    payload["message"].update(message)
    return payload


# --- the message shortcut, the whole way -------------------------------------------------------


def test_message_shortcut_to_thread_reply(world: World) -> None:
    mark = time.monotonic()
    ack = interact(world, message_shortcut(world))
    assert "payload" not in ack or not ack["payload"]

    view = opened_view(world, mark, refreshed=True)
    assert view["callback_id"] == FEEDBACK_MODAL
    assert len(view["private_metadata"]) <= 3000
    blocks = by_field(view)
    assert blocks["title"]["element"]["initial_value"].startswith("Export to CSV times out")
    assert "Export to CSV times out" in blocks["preview"]["text"]["text"]
    # Filled in by views.update once users.info answered:
    assert blocks["contact_email"]["element"]["initial_value"] == "jane@customer.example"
    assert blocks["contact_name"]["element"]["initial_value"] == "Jane Doe"

    ack = submit(world, view, {"pain_level": "HIGH", "notify": ["slack"]})
    assert not ack.get("payload"), ack

    reply = posted(world, mark, channel="C0FEEDBACK", thread_ts="1764252900.000100")
    body = world.productlane.requests_to("POST", "/threads")[-1].json
    assert body["pain_level"] == "HIGH"
    assert body["contact_email"] == "jane@customer.example"
    assert body["contact_name"] == "Jane Doe"
    assert body["origin"] == "slack"
    assert body["notify"] == {"slack": True, "email": False}
    assert "<strong>Export to CSV times out</strong>" in body["text"]
    assert "Chrome &amp; Safari" in body["text"]
    assert "https://acme.slack.com/archives/C0FEEDBACK/p1764252900000100" in body["text"]
    thread_id = world.productlane.threads[-1]["id"]
    assert THREAD_URL.format(id=thread_id) in str(reply.params.get("blocks"))
    assert "High" in str(reply.params.get("blocks"))


def test_a_shortcut_on_a_reply_answers_in_the_parents_thread(world: World) -> None:
    mark = time.monotonic()
    interact(world, message_shortcut(world, ts="1764253500.000300", thread_ts="1764252900.000100"))
    view = opened_view(world, mark, refreshed=True)
    submit(world, view, {})
    posted(world, mark, channel="C0FEEDBACK", thread_ts="1764252900.000100")


def test_a_slack_connect_channel_is_origin_slack_connect(world: World) -> None:
    world.slack.web.channels["C0SHARED01"] = make_channel(
        "C0SHARED01", "acme-customer", is_ext_shared=True, is_shared=True, is_member=True
    )
    mark = time.monotonic()
    payload = message_shortcut(world)
    payload["channel"] = {"id": "C0SHARED01", "name": "acme-customer"}
    interact(world, payload)
    submit(world, opened_view(world, mark, refreshed=True), {})
    reply = posted(world, mark, channel="C0SHARED01")
    assert world.productlane.requests_to("POST", "/threads")[-1].json["origin"] == "slack_connect"
    # The customer reads this thread: the reply keeps their contact details out.
    assert "jane@customer.example" not in str(reply.params.get("blocks"))


def test_bot_not_in_a_public_channel_joins_and_replies(world: World) -> None:
    world.slack.web.channels["C0PUBLIC02"] = make_channel("C0PUBLIC02", "general", is_member=False)
    mark = time.monotonic()
    payload = message_shortcut(world)
    payload["channel"] = {"id": "C0PUBLIC02", "name": "general"}
    interact(world, payload)
    submit(world, opened_view(world, mark, refreshed=True), {})
    posted(world, mark, "conversations.join", channel="C0PUBLIC02")
    posted(world, mark, channel="C0PUBLIC02", thread_ts="1764252900.000100")


def test_a_private_channel_the_bot_is_not_in_gets_a_dm_instead(world: World) -> None:
    world.slack.web.channels["G0PRIVATE3"] = make_channel(
        "G0PRIVATE3", "secret", is_private=True, is_member=False
    )
    world.slack.web.respond(
        "chat.postMessage",
        lambda call: (
            {"ok": False, "error": "channel_not_found"}
            if call.params.get("channel") == "G0PRIVATE3"
            else {"ok": True, "channel": call.params.get("channel"), "ts": "1.000"}
        ),
    )
    try:
        mark = time.monotonic()
        payload = message_shortcut(world)
        payload["channel"] = {"id": "G0PRIVATE3", "name": "secret"}
        interact(world, payload)
        submit(world, opened_view(world, mark), {"contact_email": "jane@customer.example"})
        dm = posted(world, mark, "conversations.open", users="U0CSM0002")
        assert dm
        reply = world.slack.web.wait_for_call(
            "chat.postMessage",
            timeout=10,
            predicate=lambda c: since(mark)(c) and str(c.params.get("channel", "")).startswith("D"),
        )
        assert "Sent to Productlane" in str(reply.params.get("text"))
    finally:
        world.slack.web.reset_responses("chat.postMessage")


def test_the_bots_own_message_gets_an_explanation_not_a_form(world: World) -> None:
    mark = time.monotonic()
    interact(world, message_shortcut(world, user="U0BOT00001", bot_id="B0BOT00001"))
    opened = world.slack.web.wait_for_call("views.open", timeout=10, predicate=since(mark))
    assert "my own messages" in str(opened.params["view"])
    assert opened.params["view"].get("callback_id") != FEEDBACK_MODAL


# --- validation ---------------------------------------------------------------------------------


def test_a_bad_email_is_flagged_on_its_field_and_nothing_is_sent(world: World) -> None:
    mark = time.monotonic()
    before = world.productlane.post_count
    interact(world, message_shortcut(world))
    view = opened_view(world, mark, refreshed=True)
    ack = submit(world, view, {"contact_email": "jane@", "title": "x" * 10})
    assert ack["payload"]["response_action"] == "errors"
    assert set(ack["payload"]["errors"]) == {by_field(view)["contact_email"]["block_id"]}
    # A submission is kept in the outbox before it is acked, and only what is kept is sent: none was.
    kept = "SELECT count(*) FROM outbox_items WHERE payload LIKE ?"
    assert count_rows(world.log.parent / "outbox.db", kept, "%" + "x" * 10 + "%") == 0
    assert world.productlane.post_count == before


# --- no source message --------------------------------------------------------------------------


def test_feedback_command_prefills_the_text_and_confirms_to_the_submitter_only(
    world: World,
) -> None:
    mark = time.monotonic()
    command = load_fixture("slash_command")
    payload = world.slack.slash_command_payload(FEEDBACK_COMMAND, command["text"])
    interact(world, payload, kind="slash_commands")
    view = opened_view(world, mark)
    feedback = next(b for b in view["blocks"] if b.get("block_id") == "feedback")
    assert "SSO via Okta & SCIM" in str(feedback["element"]["initial_value"])

    empty = submit(world, view, {"feedback": " ", "contact_email": "cio@customer.example"})
    assert set(empty["payload"]["errors"]) == {"feedback"}

    submit(world, view, {"contact_email": "cio@customer.example"})
    confirmation = posted(world, mark, "chat.postEphemeral", channel="C0FEEDBACK", user="U0CSM0002")
    assert "Sent to Productlane" in str(confirmation.params.get("text"))
    body = world.productlane.requests_to("POST", "/threads")[-1].json
    assert 'href="https://okta.com"' in body["text"]
    assert body["contact_email"] == "cio@customer.example"


def test_global_shortcut_confirms_by_dm(world: World) -> None:
    mark = time.monotonic()
    interact(world, world.slack.global_shortcut_payload(GLOBAL_SHORTCUT))
    view = opened_view(world, mark)
    submit(world, view, {"feedback": "Wants dark mode", "contact_email": "dm@customer.example"})
    posted(world, mark, "conversations.open", users="U0CSM0002")
    assert world.productlane.requests_to("POST", "/threads")[-1].json["title"] == "Wants dark mode"


# --- Productlane refusing -----------------------------------------------------------------------


def test_productlane_refusing_offers_edit_and_resend_with_everything_entered(world: World) -> None:
    world.productlane.fail_next(400, method="POST", path="/threads")
    mark = time.monotonic()
    interact(world, message_shortcut(world))
    view = opened_view(world, mark, refreshed=True)
    submit(world, view, {"title": "Please keep this title", "pain_level": "MEDIUM"})

    refusal = world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=15,
        predicate=lambda c: since(mark)(c) and EDIT_AND_RESEND_ACTION in str(c.params.get("blocks")),
    )
    assert "didn't accept" in str(refusal.params.get("text"))
    message = {"ts": refusal.response["ts"], "text": refusal.params["text"]}
    message["blocks"] = refusal.params["blocks"]
    again = time.monotonic()
    interact(
        world,
        world.slack.block_actions_payload(
            EDIT_AND_RESEND_ACTION, message=message, channel=refusal.params["channel"]
        ),
    )
    reopened = opened_view(world, again)
    blocks = by_field(reopened)
    assert blocks["title"]["element"]["initial_value"] == "Please keep this title"
    assert blocks["pain_level"]["element"]["initial_option"]["value"] == "MEDIUM"
    assert blocks["contact_email"]["element"]["initial_value"] == "jane@customer.example"

    submit(world, reopened, {})
    posted(world, again, channel="C0FEEDBACK", thread_ts="1764252900.000100")
    assert world.productlane.threads[-1]["title"] == "Please keep this title"


# --- the duplicate guard ------------------------------------------------------------------------


def test_a_message_already_sent_says_so_and_can_be_sent_again(world: World) -> None:
    mark = time.monotonic()
    payload = message_shortcut(world, ts="1764259999.000900")
    interact(world, payload)
    submit(world, opened_view(world, mark, refreshed=True), {})
    first = posted(world, mark, channel="C0FEEDBACK", thread_ts="1764259999.000900")
    assert first

    again = time.monotonic()
    interact(world, message_shortcut(world, ts="1764259999.000900"))
    view = opened_view(world, again)
    notice = str(view["blocks"][0])
    assert "Already sent" in notice
    assert THREAD_URL.format(id=world.productlane.threads[-1]["id"]) in notice
    assert "<@U0CSM0002>" in notice

    before = world.productlane.created_count
    submit(world, view, {})
    posted(world, again, channel="C0FEEDBACK", thread_ts="1764259999.000900")
    assert world.productlane.created_count == before + 1

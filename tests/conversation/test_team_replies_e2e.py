"""End to end, the team's replies: a team member answers the customer in Productlane and
the real `productlane-slack` process posts it into the Slack thread, through signed `message.sent`
webhooks — once per message, in order, in Slack Connect channels too — while internal comments,
what Productlane delivered into Slack itself and what the bot wrote never come back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conversation.conversation_world import (
    file_message,
    reply_event,
    running,
    send,
    settled,
    wait_for_comments,
)
from tests.fakes.slack import Call, make_channel
from tests.running_bot import World, fresh_fakes, since, wait_until

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.xdist_group("conversation.test_team_replies_e2e"),
]

VIA = "(via Productlane)"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running(tmp_path_factory.mktemp("team-replies")) as world:
        yield world


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world.slack, world.productlane):
        yield


def posts_in(world: World, thread_ts: str, mark: float = 0.0) -> list[Call]:
    """The bot's messages in a Slack thread that Slack took, after `mark`."""
    return [
        call
        for call in world.slack.web.calls("chat.postMessage")
        if since(mark)(call) and call.params.get("thread_ts") == thread_ts and call.response.get("ok")
    ]


def replies_in(world: World, thread_ts: str, mark: float = 0.0) -> list[str]:
    return [
        str(call.params["text"])
        for call in posts_in(world, thread_ts, mark)
        if VIA in str(call.params["text"])
    ]


def test_a_team_reply_is_posted_in_the_thread_as_mrkdwn(world: World) -> None:
    parent = "1764310100.000100"
    thread_id = file_message(world, parent, "Can we get SAML?")
    world.productlane.conversation.team_reply(
        thread_id,
        '<p>Hi Jane, <strong>good news</strong>: SAML is on the <a href="https://acme.test/roadmap">roadmap</a>.</p>'
        '<ul><li>Okta first</li><li>then Azure AD</li></ul><p><img src="https://cdn.productlane.test/a.png"></p>',
        author="Anna Lindqvist",
        attachments=[{"url": "https://cdn.productlane.test/spec.pdf", "name": "spec.pdf"}],
    )
    (text,) = wait_until(lambda: replies_in(world, parent), "the team's reply in Slack", 20)
    assert text.startswith("*Anna Lindqvist* (via Productlane):")
    assert "*good news*" in text
    assert "<https://acme.test/roadmap|roadmap>" in text
    assert "• Okta first\n• then Azure AD" in text
    assert "<https://cdn.productlane.test/a.png|Image>" in text
    assert "📎 <https://cdn.productlane.test/spec.pdf|spec.pdf>" in text


def test_a_link_labelled_with_another_address_shows_where_it_really_goes(world: World) -> None:
    parent = "1764310150.000100"
    thread_id = file_message(world, parent, "Where do I reset my password?")
    world.productlane.conversation.team_reply(
        thread_id,
        '<p>Reset it at <a href="https://login.evil.example/reset">https://accounts.acme.test/reset</a>, '
        'or read <a href="https://acme.test/help">our help</a>.</p>',
        author="Anna Lindqvist",
    )
    (text,) = wait_until(lambda: replies_in(world, parent), "the team's reply in Slack", 20)
    # The customer sees the host the link leads to beside the address its label claims.
    assert "<https://login.evil.example/reset|https://accounts.acme.test/reset (login.evil.example)>" in text
    assert "<https://acme.test/help|our help>" in text  # a label that names no address is left alone


def test_each_message_is_posted_once_and_in_order_even_when_slack_makes_the_first_wait(world: World) -> None:
    parent = "1764310200.000100"
    thread_id = file_message(world, parent, "Sync stops overnight")
    mark = time.monotonic()
    world.slack.web.respond(
        "chat.postMessage",
        {"ok": False, "error": "ratelimited"},
        status=429,
        headers={"Retry-After": "1"},
        times=1,
    )
    conversation = world.productlane.conversation
    first = conversation.team_reply(thread_id, "<p>one: we are looking</p>")
    conversation.team_reply(thread_id, "<p>two: found it</p>")
    conversation.team_reply(thread_id, "<p>three: fixed</p>")
    # Productlane delivers the first again (a retry after a lost answer, another event id).
    world.productlane.emit("message.sent", first)
    texts = wait_until(
        lambda: len(replies_in(world, parent, mark)) >= 3 and replies_in(world, parent, mark), "3", 30
    )
    assert [text.removeprefix(f"*Anna Lindqvist* {VIA}: ").split(":")[0] for text in texts] == [
        "one",
        "two",
        "three",
    ]
    # Slack refused the first post once: the others waited for it, as long as Slack asked.
    refused, *posted = [c for c in world.slack.web.calls("chat.postMessage") if since(mark)(c)]
    assert len(posted) == 3
    assert all(call.time - refused.time >= 1.0 - 0.1 for call in posted)
    settled(world)
    assert len(replies_in(world, parent, mark)) == 3


def test_internal_comments_customer_messages_and_what_productlane_posted_itself_stay_out(
    world: World,
) -> None:
    parent = "1764310300.000100"
    thread_id = file_message(world, parent, "Billing page 500s")
    conversation = world.productlane.conversation
    conversation.internal_comment(thread_id, "<p>internal: customer is on the legacy plan</p>")
    conversation.customer_message(thread_id, "<p>customer wrote by email</p>")
    conversation.team_reply(thread_id, "<p>relayed by Productlane's own Slack app</p>", channel="slack")
    conversation.team_reply(thread_id, "<p>the one that counts</p>")
    wait_until(lambda: replies_in(world, parent), "the team's reply", 20)
    settled(world)
    said = json.dumps([call.params for call in posts_in(world, parent)], ensure_ascii=False)
    assert "the one that counts" in said
    assert "internal:" not in said
    assert "customer wrote by email" not in said
    assert "relayed by Productlane" not in said


def test_no_echo_between_the_follow_ups_and_the_team_replies(world: World) -> None:
    parent = "1764310400.000100"
    thread_id = file_message(world, parent, "Calendar sync duplicates events")
    reply_event(world, parent, "1764310410.000100", "Still happening today")
    (comment,) = wait_for_comments(world, thread_id, 1)
    # Were Productlane to report the bot's own comment as a message, it is not posted back.
    world.productlane.conversation.team_reply(thread_id, comment["content"], message_id=comment["id"])
    world.productlane.conversation.team_reply(thread_id, "<p>Thanks, we are on it</p>")
    (text,) = wait_until(lambda: replies_in(world, parent), "the team's reply", 20)
    assert "we are on it" in text
    # The bot's post comes back to it as a message event in the followed thread: not a follow-up.
    posted = posts_in(world, parent)[-1]
    echo = world.slack.events_api_payload(
        posted.response["message"] | {"channel": posted.response["channel"]}
    )
    send(world, echo)
    settled(world)  # the echo kept nothing to send, and nothing more is posted
    assert len(world.productlane.conversation.comments_on(thread_id)) == 1
    assert len(replies_in(world, parent)) == 1


def test_slack_connect_channels_hear_the_team_too(world: World) -> None:
    world.slack.web.channels["C0SHARED03"] = make_channel(
        "C0SHARED03", "acme-customer", is_ext_shared=True, is_shared=True, is_member=True
    )
    parent = "1764310500.000100"
    thread_id = file_message(world, parent, "Exports are slow", channel="C0SHARED03")
    world.productlane.conversation.team_reply(thread_id, "<p>Fixed in 2.4, thanks for your patience</p>")
    (text,) = wait_until(lambda: replies_in(world, parent), "the team's reply", 20)
    assert "Fixed in 2.4" in text
    assert posts_in(world, parent)[-1].params["channel"] == "C0SHARED03"


def test_a_megabyte_of_hostile_html_does_not_hold_up_the_next_reply(world: World) -> None:
    """Unclosed tags by the hundred thousand (a parser's worst case) in a reply just under the
    webhook's 1 MiB cap: it is read from its beginning only, and the reply after it is posted."""
    parent = "1764310700.000100"
    thread_id = file_message(world, parent, "Import chokes on big files")
    conversation = world.productlane.conversation
    conversation.team_reply(thread_id, "<p>Here is what we found:</p>" + "<a" * 490_000)
    conversation.team_reply(thread_id, "<p>Fixed now, sorry for the noise</p>")
    texts = wait_until(lambda: len(replies_in(world, parent)) >= 2 and replies_in(world, parent), "both", 30)
    assert texts == [
        f"*Anna Lindqvist* {VIA}: Here is what we found: … _(the rest is in Productlane)_",
        f"*Anna Lindqvist* {VIA}: Fixed now, sorry for the noise",
    ]
    assert "Traceback" not in world.log_text()


def test_with_updates_post_replies_off_nothing_is_posted(tmp_path: Path) -> None:
    with running(tmp_path, {"UPDATES_POST_REPLIES": "false"}) as world:
        parent = "1764310600.000100"
        thread_id = file_message(world, parent, "Dark mode")
        world.productlane.conversation.team_reply(thread_id, "<p>Not yet, sorry</p>")
        wait_until(
            lambda: "posting replies is off" in world.log_text(), "the event applied without a post", 20
        )
        assert replies_in(world, parent) == []


def test_a_reply_not_said_to_have_gone_to_the_customer_stays_out_of_a_shared_channel(world: World) -> None:
    world.slack.web.channels["C0SHARED05"] = make_channel(
        "C0SHARED05", "bigco-support", is_ext_shared=True, is_shared=True, is_member=True
    )
    shared, internal = "1764310800.000100", "1764310900.000100"
    in_shared = file_message(world, shared, "Reports are blank", channel="C0SHARED05")
    in_internal = file_message(world, internal, "Reports are blank here too")
    conversation = world.productlane.conversation
    # Productlane's data does not say these went out to the customer.
    conversation.team_reply(in_shared, "<p>unsure where this went</p>", direction=None)
    conversation.team_reply(in_internal, "<p>unsure, in our own channel</p>", direction=None)
    conversation.team_reply(in_shared, "<p>this one went to them</p>")
    wait_until(lambda: replies_in(world, shared), "the reply that went to the customer", 20)
    wait_until(lambda: replies_in(world, internal), "the reply in the internal channel", 20)
    settled(world)
    assert [text.split(": ", 1)[1] for text in replies_in(world, shared)] == ["this one went to them"]
    assert "unsure, in our own channel" in replies_in(world, internal)[0]


def test_a_reply_not_said_to_have_gone_to_the_customer_waits_while_slack_cannot_describe_the_channel(
    world: World,
) -> None:
    """Slack's passing trouble (conversations.info failing) says nothing about who reads the
    channel: the reply is neither posted there nor dropped, and goes in once Slack says the channel
    is internal."""
    channel = "C0WAITING6"
    world.slack.web.channels[channel] = make_channel(channel, "support-internal", is_member=True)
    slack = world.slack.web

    def failing_for_this_channel(call: Call) -> dict[str, object]:
        if call.params.get("channel") == channel:
            return {"ok": False, "error": "internal_error"}
        return {"ok": True, "channel": slack.channels[str(call.params.get("channel"))]}

    slack.respond("conversations.info", failing_for_this_channel)
    parent = "1764311000.000100"
    thread_id = file_message(world, parent, "Billing page is slow", channel=channel)
    mark = time.monotonic()
    world.productlane.conversation.team_reply(thread_id, "<p>we are on it</p>", direction=None)
    waiting = f"thread {thread_id}: reply not sent (waiting: Slack did not say whether the channel is shared)"
    wait_until(lambda: world.log_text().count(waiting) >= 2, "the reply waiting, asked again", 30)
    assert replies_in(world, parent, mark) == []
    assert f"thread {thread_id}: reply dropped" not in world.log_text()
    slack.reset_responses("conversations.info")
    (text,) = wait_until(lambda: replies_in(world, parent, mark), "the reply once Slack answers", 60)
    assert text.endswith("we are on it")
    settled(world)
    assert len(replies_in(world, parent, mark)) == 1

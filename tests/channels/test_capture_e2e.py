"""End to end, what a channel's settings change: how feedback is confirmed there (a reply in
the thread, privately, a ✅ reaction), whether the emoji files messages, and automatic capture — each
new top-level message by a person filed once, in the order posted, never an edit, a bot, a join or a
reply, never a message deleted before its turn; the bot joins a public channel it must read and asks
to be invited to a private one."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.ids import MESSAGE_SHORTCUT
from bot.ui.channel_views import CAPTURE_BLOCK, CONFIRM_BLOCK, PAIN_BLOCK
from tests.channels.rig import (
    ADMIN,
    AUTHOR,
    MEMBER,
    Replica,
    add_admin,
    deletion_event,
    message_event,
    replica,
    set_channel,
    threads_with,
)
from tests.databases import database_url
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlack
from tests.running_bot import fresh_fakes, opened_view, outbox_settled, since, submit, wait_until

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240), pytest.mark.xdist_group("channels.test_capture_e2e")]

THREADED, PRIVATE, REACTED = "C0THREAD01", "C0PRIVAT01", "C0REACTD01"
SHORTCUT_ONLY, EMOJI, AUTOMATIC = "C0SHORTC01", "C0EMOJI001", "C0AUTOMA01"
QUIET_AUTOMATIC = "C0QUIETA01"
NOT_JOINED, INVITE_ONLY = "C0NOTJOIN1", "G0INVITE01"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    home = tmp_path_factory.mktemp("channels")
    with FakeSlack() as slack, FakeProductlane() as productlane:
        add_admin(slack)
        for channel in (THREADED, PRIVATE, REACTED, SHORTCUT_ONLY, EMOJI, AUTOMATIC, QUIET_AUTOMATIC):
            slack.web.add_channel(channel, channel.lower())
        slack.web.add_channel(NOT_JOINED, "not-joined", is_member=False)
        slack.web.add_channel(INVITE_ONLY, "invite-only", is_private=True, is_member=False)
        with replica(slack, productlane, home, "socket", database_url("sqlite", home)) as running:
            set_channel(running, {CONFIRM_BLOCK: "thread"}, channel=THREADED)
            set_channel(running, {CONFIRM_BLOCK: "private"}, channel=PRIVATE)
            set_channel(running, {CONFIRM_BLOCK: "reaction"}, channel=REACTED)
            set_channel(running, {CAPTURE_BLOCK: "shortcut"}, channel=SHORTCUT_ONLY)
            set_channel(running, {CAPTURE_BLOCK: "reaction", PAIN_BLOCK: "LOW"}, channel=EMOJI)
            set_channel(running, {CAPTURE_BLOCK: "automatic", PAIN_BLOCK: "MEDIUM"}, channel=AUTOMATIC)
            set_channel(
                running, {CAPTURE_BLOCK: "automatic", CONFIRM_BLOCK: "private"}, channel=QUIET_AUTOMATIC
            )
            yield running


@pytest.fixture(autouse=True)
def fresh(bot: Replica) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(bot.world.slack, bot.world.productlane):
        yield


def customer_message(ts: str, text: str) -> dict[str, Any]:
    return {"type": "message", "user": AUTHOR, "ts": ts, "team": "T0ACME0001", "text": text}


def send_by_shortcut(bot: Replica, channel: str, ts: str, text: str) -> float:
    settled(bot)  # an earlier test's confirmation must not land after this mark
    mark = time.monotonic()
    payload = bot.slack.message_shortcut_payload(
        MESSAGE_SHORTCUT, message=customer_message(ts, text), channel=channel, user=MEMBER
    )
    bot.slack.socket.wait_ack(bot.slack.socket.send_envelope("interactive", payload))
    ack = submit(bot.world, opened_view(bot.world, mark, refreshed=True), {})
    assert not ack.get("payload"), ack
    wait_until(lambda: threads_with(bot.world.productlane, text), f"the thread of {text!r}", 30)
    return mark


def calls_after(bot: Replica, mark: float, method: str, **match: Any) -> list[Call]:
    return [
        call
        for call in bot.slack.web.calls(method)
        if since(mark)(call) and all(call.params.get(key) == value for key, value in match.items())
    ]


def settled(bot: Replica) -> None:
    """Everything filed so far is delivered and confirmed (or failed): what the bot would post about
    it has been posted. The module's tests share one bot, so a test that counts what was posted
    after its mark waits for this first: a busy machine can confirm an earlier test's feedback late."""
    outbox_settled(bot.world.log.parent / "outbox.db")


# --- confirmation styles ------------------------------------------------------------------------


def test_a_thread_channel_gets_the_reply_in_the_thread(bot: Replica) -> None:
    mark = send_by_shortcut(bot, THREADED, "1764310001.000100", "Thread style feedback")
    wait_until(lambda: calls_after(bot, mark, "chat.postMessage", channel=THREADED), "the reply")
    reply = calls_after(bot, mark, "chat.postMessage", channel=THREADED)[0]
    assert reply.params["thread_ts"] == "1764310001.000100"
    assert not calls_after(bot, mark, "reactions.add")


def test_a_private_channel_tells_only_the_submitter_by_dm(bot: Replica) -> None:
    mark = send_by_shortcut(bot, PRIVATE, "1764310002.000100", "Private style feedback")
    wait_until(lambda: calls_after(bot, mark, "chat.postMessage", channel=f"D{MEMBER[1:]}"), "the DM")
    dm = calls_after(bot, mark, "chat.postMessage", channel=f"D{MEMBER[1:]}")[0]
    assert "Sent to Productlane" in dm.params["text"]
    settled(bot)
    assert not calls_after(bot, mark, "chat.postMessage", channel=PRIVATE)
    assert not calls_after(bot, mark, "reactions.add")


def test_a_reaction_channel_gets_a_check_mark_and_nothing_else(bot: Replica) -> None:
    mark = send_by_shortcut(bot, REACTED, "1764310003.000100", "Reaction style feedback")
    wait_until(lambda: bot.slack.web.reactions.get((REACTED, "1764310003.000100")), "the ✅")
    assert bot.slack.web.reactions[(REACTED, "1764310003.000100")] == ["white_check_mark"]
    settled(bot)
    assert not calls_after(bot, mark, "chat.postMessage")
    assert not calls_after(bot, mark, "chat.postEphemeral")


def test_a_refused_submission_still_reaches_the_submitter_privately_with_edit_and_resend(
    bot: Replica,
) -> None:
    productlane = bot.world.productlane
    productlane.fail_next(400, path="/threads", method="POST")
    mark = time.monotonic()
    payload = bot.slack.message_shortcut_payload(
        MESSAGE_SHORTCUT,
        message=customer_message("1764310004.000100", "Refused here"),
        channel=REACTED,
        user=MEMBER,
    )
    bot.slack.socket.wait_ack(bot.slack.socket.send_envelope("interactive", payload))
    submit(bot.world, opened_view(bot.world, mark, refreshed=True), {})
    dm = bot.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=20,
        predicate=lambda c: since(mark)(c) and c.params.get("channel") == f"D{MEMBER[1:]}",
    )
    assert "Edit and resend" in str(dm.params["blocks"])
    assert not bot.slack.web.reactions.get((REACTED, "1764310004.000100"))


# --- capture modes ------------------------------------------------------------------------------


def react(bot: Replica, channel: str, ts: str, text: str) -> None:
    bot.slack.web.add_message(channel, customer_message(ts, text))
    payload = bot.slack.reaction_added_payload(ts, channel=channel, user=MEMBER)
    bot.slack.socket.wait_ack(bot.slack.socket.send_envelope("events_api", payload))


def test_the_emoji_files_where_capture_is_reaction_and_not_where_it_is_shortcut(bot: Replica) -> None:
    react(bot, EMOJI, "1764320001.000100", "Emoji files this one")
    react(bot, SHORTCUT_ONLY, "1764320002.000100", "Emoji ignored here")
    wait_until(lambda: threads_with(bot.world.productlane, "Emoji files this one"), "the emoji's thread")
    filed = threads_with(bot.world.productlane, "Emoji files this one")[0]
    assert filed["pain_level"] == "LOW"  # the channel's default pain level
    wait_until(lambda: "capture setting turns the emoji off" in bot.log(), "the log line")
    assert not threads_with(bot.world.productlane, "Emoji ignored here")


# --- automatic capture ---------------------------------------------------------------------------


def test_a_new_message_is_filed_once_however_often_slack_delivers_it(bot: Replica) -> None:
    event = message_event(bot.slack, "1764330001.000100", "Automatic once please", channel=AUTOMATIC)
    bot.event(event)
    bot.event(event, retry_attempt=1)
    bot.event(event, retry_attempt=2)
    wait_until(lambda: threads_with(bot.world.productlane, "Automatic once please"), "the thread")
    settled(bot)
    threads = threads_with(bot.world.productlane, "Automatic once please")
    assert len(threads) == 1
    assert threads[0]["pain_level"] == "MEDIUM"
    assert threads[0]["contact"]["email"] == "jane@customer.example"
    reply = bot.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=10,
        predicate=lambda c: (
            c.params.get("channel") == AUTOMATIC and c.params.get("thread_ts") == "1764330001.000100"
        ),
    )
    assert f"<@{AUTHOR}>" in reply.params["text"]  # the author filed it


def test_edits_bots_joins_and_replies_file_nothing(bot: Replica) -> None:
    slack, before = bot.slack, len(bot.world.productlane.threads)
    parent = "1764330002.000100"
    for payload in (
        slack.message_event_payload("bot_message", channel=AUTOMATIC, text="Deploy done (bot)"),
        slack.message_event_payload("own_reply", channel=AUTOMATIC, thread_ts=None, text="Our own message"),
        slack.message_event_payload("channel_join", channel=AUTOMATIC),
        slack.message_event_payload(
            "message_changed",
            channel=AUTOMATIC,
            message={"type": "message", "user": AUTHOR, "text": "An edit", "ts": "1764330000.000100"},
        ),
        message_event(slack, "1764330002.000200", "A reply in a thread", channel=AUTOMATIC, thread_ts=parent),
        message_event(
            slack,
            "1764330002.000300",
            "Also sent to the channel",
            channel=AUTOMATIC,
            thread_ts=parent,
            subtype="thread_broadcast",
        ),
    ):
        bot.event(payload)
    bot.event(message_event(slack, "1764330002.000400", "The one that counts", channel=AUTOMATIC))
    wait_until(lambda: threads_with(bot.world.productlane, "The one that counts"), "the thread")
    settled(bot)
    assert len(bot.world.productlane.threads) == before + 1


def test_a_message_deleted_before_its_turn_is_not_sent(bot: Replica) -> None:
    productlane = bot.world.productlane
    # The first send gets no answer until the test says so: the second message waits behind it (a
    # channel's messages go in the order posted) while it is deleted.
    productlane.hold(path="/threads", method="POST")
    try:
        bot.event(message_event(bot.slack, "1764330003.000100", "Kept: sent first", channel=AUTOMATIC))
        wait_until(
            lambda: any(
                "Kept: sent first" in str(r.json) for r in productlane.requests_to("POST", "/threads")
            ),
            "the first send",
        )
        bot.event(message_event(bot.slack, "1764330003.000200", "Deleted: never sent", channel=AUTOMATIC))
        bot.event(deletion_event(bot.slack, "1764330003.000200", "Deleted: never sent", channel=AUTOMATIC))
        bot.event(message_event(bot.slack, "1764330003.000300", "Kept: sent after", channel=AUTOMATIC))
    finally:
        productlane.release()
    wait_until(lambda: threads_with(productlane, "Kept: sent after"), "the last thread", 30)
    settled(bot)
    assert not threads_with(productlane, "Deleted: never sent")
    assert not [
        r for r in productlane.requests_to("POST", "/threads") if "Deleted: never sent" in str(r.json)
    ]
    assert "its message was deleted in Slack before its turn" in bot.log()


def test_messages_are_sent_in_the_order_they_were_posted_whatever_order_they_arrive_in(bot: Replica) -> None:
    productlane = bot.world.productlane
    stamps = [f"1764340000.{index:06d}" for index in range(1, 13)]
    # The first message's send gets no answer until the others are in; meanwhile they arrive,
    # shuffled (acks on several threads, Slack's own order), and four senders are free to take them.
    productlane.hold(path="/threads", method="POST")
    try:
        bot.event(message_event(bot.slack, stamps[0], f"Ordered {stamps[0]}", channel=AUTOMATIC))
        wait_until(
            lambda: any(stamps[0] in str(r.json) for r in productlane.requests_to("POST", "/threads")), "1st"
        )
        rest = stamps[1:]
        random.Random(14).shuffle(rest)
        for ts in rest:
            bot.event(message_event(bot.slack, ts, f"Ordered {ts}", channel=AUTOMATIC))
    finally:
        productlane.release()
    wait_until(lambda: len(threads_with(productlane, "Ordered ")) == len(stamps), "every thread", 60)
    created = [
        ts for thread in threads_with(productlane, "Ordered ") for ts in stamps if ts in thread["text"]
    ]
    assert created == stamps


def test_a_send_that_fails_holds_the_later_messages_back(bot: Replica) -> None:
    productlane = bot.world.productlane
    stamps = [f"1764350000.{index:06d}" for index in range(1, 5)]
    productlane.fail_next(503, path="/threads", method="POST")
    for ts in stamps:
        bot.event(message_event(bot.slack, ts, f"Held {ts}", channel=AUTOMATIC))
    wait_until(lambda: len(threads_with(productlane, "Held ")) == len(stamps), "every thread", 60)
    assert any(r.status == 503 for r in productlane.requests_to("POST", "/threads"))
    created = [ts for thread in threads_with(productlane, "Held ") for ts in stamps if ts in thread["text"]]
    assert created == stamps


def test_private_confirmations_of_captured_messages_tell_nobody(bot: Replica) -> None:
    settled(bot)
    mark = time.monotonic()
    bot.event(message_event(bot.slack, "1764330004.000100", "Quietly captured", channel=QUIET_AUTOMATIC))
    wait_until(lambda: threads_with(bot.world.productlane, "Quietly captured"), "the thread")
    settled(bot)
    assert not calls_after(bot, mark, "chat.postMessage")
    assert not calls_after(bot, mark, "chat.postEphemeral")
    assert not calls_after(bot, mark, "reactions.add")


def test_turning_automatic_on_joins_a_public_channel_and_asks_to_be_invited_to_a_private_one(
    bot: Replica,
) -> None:
    mark = time.monotonic()
    set_channel(bot, {CAPTURE_BLOCK: "automatic"}, channel=NOT_JOINED)
    joined = bot.slack.web.wait_for_call("conversations.join", timeout=10, predicate=since(mark))
    assert joined.params["channel"] == NOT_JOINED
    told = bot.slack.web.wait_for_call(
        "chat.postEphemeral", timeout=10, predicate=lambda c: since(mark)(c) and c.params.get("user") == ADMIN
    )
    assert "I joined" in told.params["text"]
    # Now in it, the bot files its messages.
    bot.event(message_event(bot.slack, "1764330005.000100", "Captured after joining", channel=NOT_JOINED))
    wait_until(lambda: threads_with(bot.world.productlane, "Captured after joining"), "the thread")

    mark = time.monotonic()
    set_channel(bot, {CAPTURE_BLOCK: "automatic"}, channel=INVITE_ONLY)
    dm = bot.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=10,
        predicate=lambda c: since(mark)(c) and c.params.get("channel") == f"D{ADMIN[1:]}",
    )
    assert "Invite me" in dm.params["text"]
    assert not calls_after(bot, mark, "conversations.join")

"""The team's replies from Productlane: `message.sent` read defensively, decided purely,
queued once per message id, and sent to Slack in order per thread — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.delivery.outbox import Outbox
from bot.updates.decide import PostReply, Switches, decide
from bot.updates.events import MessageSent, WebhookEvent, change_of
from bot.updates.render import REPLY_MAX, team_reply_text
from bot.updates.state import Status, ThreadState
from bot.updates.store import UpdatesStore
from tests.databases import outbox_at
from tests.updates.conftest import Clock
from tests.updates.helpers import add, record

pytestmark = pytest.mark.timeout(60)

ON = Switches()


def sent(data: dict[str, Any]) -> MessageSent | None:
    change = change_of(WebhookEvent(id="evt_1", type="message.sent", data=data))
    assert change is None or isinstance(change, MessageSent)
    return change


def state(**changes: Any) -> ThreadState:
    values: dict[str, Any] = {
        "thread_id": "th_1",
        "status": Status.OPEN,
        "status_as_of": None,
        "links": (),
        "done_reached": False,
        "shipped_reached": False,
        "is_slack_connect": False,
    }
    values.update(changes)
    return ThreadState(**values)


# --- reading the event ------------------------------------------------------------------------


def test_a_sent_message_is_read_wherever_its_fields_plausibly_are() -> None:
    message = sent(
        {
            "id": "msg_1",
            "thread": {"id": "th_1"},
            "html": "<p>Hi</p>",
            "user": {"first_name": "Anna", "last_name": "Lindqvist"},
            "files": [{"file_url": "https://cdn.test/a.pdf", "file_name": "a.pdf"}, "https://cdn.test/b.png"],
            "created_at": "2026-11-28T10:00:00Z",
            "channel": "email",
        }
    )
    assert message is not None
    assert (message.message_id, message.thread_id, message.html) == ("msg_1", "th_1", "<p>Hi</p>")
    assert message.author == "Anna Lindqvist"
    assert message.attachments == (("https://cdn.test/a.pdf", "a.pdf"), ("https://cdn.test/b.png", ""))
    assert message.created_at == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert not message.relayed_to_slack
    assert not message.internal


@pytest.mark.parametrize(
    ("data", "relayed"),
    [
        ({"channel": "slack"}, True),
        ({"channel": "SLACK_CONNECT"}, True),
        ({"delivery_channel": "slack"}, True),
        ({"slack_ts": "1700000000.000100"}, True),
        ({"channel": "email"}, False),
        # The thread's origin is "slack" for every thread the bot files: it says nothing.
        ({"channel": "email", "origin": "slack", "thread": {"id": "th_1", "origin": "slack"}}, False),
    ],
)
def test_only_message_level_fields_say_productlane_posted_it_in_slack(
    data: dict[str, Any], relayed: bool
) -> None:
    message = sent({"id": "msg_1", "thread_id": "th_1", "content": "<p>x</p>", **data})
    assert message is not None
    assert message.relayed_to_slack is relayed


def test_a_message_without_an_id_or_a_thread_is_not_one_to_act_on() -> None:
    assert sent({"thread_id": "th_1", "content": "<p>x</p>"}) is None
    assert sent({"id": "msg_1", "content": "<p>x</p>"}) is None
    assert sent({"id": "msg_1", "thread_id": "th_1", "content": "x", "internal": True}).internal  # type: ignore[union-attr]


# --- deciding ---------------------------------------------------------------------------------


def message(**changes: Any) -> MessageSent:
    values: dict[str, Any] = {
        "message_id": "msg_1",
        "thread_id": "th_1",
        "html": "<p>We shipped it</p>",
        "author": "Anna",
        "attachments": (),
        "created_at": None,
        "relayed_to_slack": False,
        "internal": False,
    }
    values.update(changes)
    return MessageSent(**values)


def test_a_team_reply_is_posted_in_slack_connect_channels_too() -> None:
    for slack_connect in (False, True):
        decision = decide(state(is_slack_connect=slack_connect), message(), ON)
        assert decision.effects == (PostReply("th_1", "msg_1", "*Anna* (via Productlane): We shipped it"),)
        assert decision.state == state(is_slack_connect=slack_connect)


@pytest.mark.parametrize(
    ("changes", "switches", "note"),
    [
        ({"skip": "the bot wrote it (a follow-up from Slack)"}, ON, "the bot wrote it"),
        ({"internal": True}, ON, "internal note"),
        ({"relayed_to_slack": True}, ON, "Productlane posted it in Slack itself"),
        ({}, Switches(post_replies=False), "UPDATES_POST_REPLIES"),
        ({"html": "<p> </p>"}, ON, "empty"),
    ],
)
def test_what_is_not_posted_and_why(changes: dict[str, Any], switches: Switches, note: str) -> None:
    decision = decide(state(), message(**changes), switches)
    assert decision.effects == ()
    assert note in decision.note


def test_a_removed_thread_hears_nothing_more() -> None:
    assert decide(state(status=Status.REMOVED), message(), ON).effects == ()


def test_the_reply_text_names_the_author_and_keeps_files_as_links() -> None:
    text = team_reply_text(
        "Anna <Admin>",
        "<p>Line one</p><p>Line two</p>",
        [("https://cdn.test/spec.pdf", "spec|v2.pdf"), ("javascript:alert(1)", "x")],
    )
    assert text == (
        "*Anna &lt;Admin&gt;* (via Productlane):\nLine one\nLine two\n📎 <https://cdn.test/spec.pdf|spec¦v2.pdf>"
    )
    assert team_reply_text(None, "<p>ok</p>") == "*The team* (via Productlane): ok"
    assert team_reply_text("Anna", "") == ""


def test_a_very_long_reply_is_cut_with_a_pointer_to_productlane() -> None:
    text = team_reply_text("Anna", "<p>" + "word " * 2000 + "</p>")
    assert len(text) < REPLY_MAX + 100
    assert text.endswith("… _(the rest is in Productlane)_")


# --- queued once, sent in order ---------------------------------------------------------------


@pytest.fixture
def outbox(url: str) -> Iterator[Outbox]:
    box = outbox_at(url)
    yield box
    box.close()


@pytest.fixture
def store(outbox: Outbox, clock: Clock) -> UpdatesStore:
    return UpdatesStore(outbox.database, clock=clock)


def apply(store: UpdatesStore, event_id: str, change: MessageSent) -> str | None:
    data = {"id": change.message_id, "thread_id": change.thread_id, "content": change.html}
    add(store, event_id, data, "message.sent")
    [event] = store.claim_events("applier", 1, 30)
    return store.apply(event, "applier", change, ON)


def test_one_message_is_queued_once_whatever_events_carry_it(store: UpdatesStore) -> None:
    store.remember(record("th_1"))
    apply(store, "evt_1", message())
    apply(store, "evt_2", message())  # the same message in another event
    assert store.counts()["effects.pending"] == 1


def test_a_threads_replies_are_claimed_one_at_a_time_in_order(store: UpdatesStore, clock: Clock) -> None:
    store.remember(record("th_1"))
    store.remember(record("th_2", thread_ts="200.000001"))
    apply(store, "evt_1", message(message_id="m1"))
    apply(store, "evt_2", message(message_id="m2"))
    apply(store, "evt_3", message(message_id="m3", thread_id="th_2"))
    first = store.claim_effects("a", 10, 60)
    # m2 waits for m1; the other thread's reply is not held up by them.
    assert [effect.effect_key for effect in first] == ["reply:m1", "reply:m3"]
    assert store.claim_effects("b", 10, 60) == []
    # m1 must wait (Slack rate-limited it): m2 still waits behind it.
    store.effect_retry(first[0], "a", clock(), "ratelimited")
    clock.advance(1)
    [again] = store.claim_effects("b", 10, 60)
    assert again.effect_key == "reply:m1"
    store.effect_sent(again, "b")
    [then] = store.claim_effects("b", 10, 60)
    assert then.effect_key == "reply:m2"


def test_the_channels_replies_setting_and_the_bots_own_comments_keep_a_reply_out(store: UpdatesStore) -> None:
    from bot.updates.worker import EventApplier

    store.remember(record("th_1", channel_id="C0QUIET001"))
    store.remember(record("th_2", channel_id="C0LOUD0001", thread_ts="200.000001"))
    applier = EventApplier(
        store,
        None,  # type: ignore[arg-type]  # no names are looked up for replies
        ON,
        bot_wrote=lambda message_id: message_id == "cm_ours",
        replies_in=lambda channel: channel != "C0QUIET001",
    )
    for event_id, data in (
        ("evt_1", {"id": "m1", "thread_id": "th_1", "content": "<p>quiet channel</p>"}),
        ("evt_2", {"id": "cm_ours", "thread_id": "th_2", "content": "<p>our follow-up</p>"}),
        ("evt_3", {"id": "m3", "thread_id": "th_2", "content": "<p>the team</p>"}),
    ):
        add(store, event_id, data, "message.sent")
    assert applier.apply_due("applier") == 3
    [effect] = store.claim_effects("sender", 10, 60)
    assert (effect.effect_key, effect.text) == ("reply:m3", "*The team* (via Productlane): the team")

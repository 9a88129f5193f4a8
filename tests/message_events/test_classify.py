"""Every message in every channel the bot is in is read into a `ChannelMessage` or dropped: what a
person said (new, edited, deleted) is kept; joins, bots and the bot's own replies are not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.message_events import ChannelMessage, Interest, MessageKind, Route, read_message_event

FIXTURES = json.loads((Path(__file__).parent.parent / "fixtures/slack/message_events.json").read_text())
BOT_USER, BOT_ID = "U0BOT0001", "B0BOT00001"


def event(name: str, **changes: Any) -> dict[str, Any]:
    return {**FIXTURES[name]["payload"]["event"], **changes}


def read(name: str, **changes: Any) -> ChannelMessage | None:
    return read_message_event(event(name, **changes), bot_user_id=BOT_USER, bot_id=BOT_ID)


def test_a_top_level_message_by_a_person_is_new_and_top_level() -> None:
    message = read("top_level_by_person")
    assert message is not None
    assert (message.kind, message.channel, message.ts, message.user) == (
        MessageKind.NEW,
        "C0SHARED01",
        "1733150100.000200",
        "U0CUST0003",
    )
    assert message.top_level
    assert message.user_team == "T0CUSTOMR1"


def test_replies_name_their_thread_and_files_count_as_a_persons_message() -> None:
    reply = read("thread_reply_by_person")
    with_file = read("reply_with_file")
    assert reply is not None
    assert with_file is not None
    assert not reply.top_level
    assert reply.thread_ts == "1733150100.000200"
    assert with_file.kind is MessageKind.NEW
    assert with_file.message["files"][0]["id"] == "F0FOLLOW01"


def test_a_threads_parent_is_top_level() -> None:
    parent = read("top_level_by_person", thread_ts="1733150100.000200")
    assert parent is not None
    assert parent.top_level


@pytest.mark.parametrize("name", ["bot_message", "own_reply", "channel_join"])
def test_bots_the_bot_itself_and_slacks_notices_are_not_a_person_speaking(name: str) -> None:
    assert read(name) is None


def test_a_message_by_an_app_with_a_user_is_still_a_bot() -> None:
    assert read("top_level_by_person", bot_id="B0OTHER001") is None
    assert read("top_level_by_person", user=BOT_USER) is None


def test_an_edit_names_the_message_it_changes_and_carries_its_new_text() -> None:
    edit = read("message_changed")
    assert edit is not None
    assert (edit.kind, edit.ts, edit.thread_ts) == (
        MessageKind.EDITED,
        "1733150160.000300",
        "1733150100.000200",
    )
    assert edit.message["text"] == "It happens on mobile too (iOS 18)"


def test_a_deletion_names_the_message_it_removes() -> None:
    deleted = read("message_deleted")
    assert deleted is not None
    assert (deleted.kind, deleted.ts, deleted.thread_ts) == (
        MessageKind.DELETED,
        "1733150160.000300",
        "1733150100.000200",
    )


def test_other_events_and_broken_ones_are_nothing() -> None:
    assert read_message_event({"type": "reaction_added"}, bot_user_id=BOT_USER, bot_id=BOT_ID) is None
    assert read("top_level_by_person", channel=None) is None
    assert read("top_level_by_person", ts=None) is None
    assert read("message_changed", message="gone") is None


def test_only_followed_threads_and_automatic_channels_are_wanted() -> None:
    interest = Interest()
    top, reply = read("top_level_by_person"), read("thread_reply_by_person")
    assert top is not None
    assert reply is not None
    assert interest.route(top) is None
    assert interest.route(reply) is None

    interest.follow("C0SHARED01", "1733150100.000200")
    assert interest.route(reply) is Route.FOLLOW_UP
    assert interest.route(top) is None  # the parent itself is not a follow-up

    interest.set_automatic_channels({"C0SHARED01"})
    assert interest.route(top) is Route.AUTOMATIC
    assert interest.route(reply) is Route.FOLLOW_UP

    interest.set_followed([])
    interest.set_automatic_channels([])
    assert interest.route(reply) is None
    assert interest.route(top) is None

"""`MessageEvents`: each message goes to the one consumer that wants it, or nowhere; a consumer that
cannot keep a message raises, so Slack does not get its ack and sends it again."""

from __future__ import annotations

from typing import Any

import pytest

from bot.message_events import ChannelMessage, Interest, MessageEvents, Outcome
from tests.fakes.slack import FakeSlack

THREAD = ("C0SHARED01", "1733150100.000200")


def payload(name: str, **changes: Any) -> dict[str, Any]:
    return FakeSlack().message_event_payload(name, **changes)


def events(seen: list[tuple[str, ChannelMessage, str | None]]) -> MessageEvents:
    return MessageEvents(
        Interest(),
        bot_user_id="U0BOT0001",
        bot_id="B0BOT00001",
        automatic=lambda message, team: seen.append(("automatic", message, team)),
        follow_up=lambda message, team: seen.append(("follow-up", message, team)),
    )


def test_messages_nobody_follows_are_ignored_and_reach_no_consumer() -> None:
    seen: list[tuple[str, ChannelMessage, str | None]] = []
    router = events(seen)
    for name in ("top_level_by_person", "thread_reply_by_person", "bot_message", "channel_join"):
        assert router.handle(payload(name)) is Outcome.IGNORED
    assert router.handle({"type": "event_callback", "event": {"type": "reaction_added"}}) is (
        Outcome.NOT_A_MESSAGE
    )
    assert seen == []


def test_a_reply_in_a_followed_thread_reaches_follow_ups_with_the_workspace() -> None:
    seen: list[tuple[str, ChannelMessage, str | None]] = []
    router = events(seen)
    router.interest.follow(*THREAD)
    assert router.handle(payload("thread_reply_by_person")) is Outcome.FOLLOW_UP
    assert router.handle(payload("own_reply")) is Outcome.IGNORED  # the bot's own reply
    assert [(kind, message.ts, team) for kind, message, team in seen] == [
        ("follow-up", "1733150160.000300", "T0ACME0001")
    ]


def test_a_top_level_message_in_an_automatic_channel_reaches_automatic_capture() -> None:
    seen: list[tuple[str, ChannelMessage, str | None]] = []
    router = events(seen)
    router.interest.set_automatic_channels({"C0SHARED01"})
    assert router.handle(payload("top_level_by_person")) is Outcome.AUTOMATIC
    assert router.handle(payload("top_level_by_person", channel="C0ELSEWHERE")) is Outcome.IGNORED
    assert [kind for kind, _, _ in seen] == ["automatic"]


def test_a_consumer_that_cannot_keep_the_message_raises_to_the_caller() -> None:
    def broken(message: ChannelMessage, team: str | None) -> None:
        raise RuntimeError("database is down")

    router = MessageEvents(Interest(), bot_user_id="U0BOT0001", bot_id=None, follow_up=broken)
    router.interest.follow(*THREAD)
    with pytest.raises(RuntimeError):
        router.handle(payload("thread_reply_by_person"))

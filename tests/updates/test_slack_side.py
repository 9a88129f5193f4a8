"""Carrying updates to Slack: sent, retried (rate limits, 5xx, network) or dropped (gone for good)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.replies import notice_reply
from bot.updates.slack_side import SlackOutcome, SlackThreadUpdater, classify_slack_error
from tests.fakes.slack import DEFAULT_BOT_TOKEN, FakeSlackWebAPI

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def slack() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI() as fake:
        yield fake


@pytest.fixture
def updater(slack: FakeSlackWebAPI) -> SlackThreadUpdater:
    return SlackThreadUpdater(WebClient(token=DEFAULT_BOT_TOKEN, base_url=slack.api_url, timeout=5))


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (429, "ratelimited", SlackOutcome("retry", "ratelimited", 7.0)),
        (200, "ratelimited", SlackOutcome("retry", "ratelimited", 7.0)),
        (500, None, SlackOutcome("retry", "HTTP 500")),
        (503, "service_unavailable", SlackOutcome("retry", "service_unavailable")),
        (200, "internal_error", SlackOutcome("retry", "internal_error")),
        (200, "message_not_found", SlackOutcome("drop", "message_not_found")),
        (200, "channel_not_found", SlackOutcome("drop", "channel_not_found")),
        (200, "not_in_channel", SlackOutcome("drop", "not_in_channel")),
        (200, "is_archived", SlackOutcome("drop", "is_archived")),
        (200, "something_new", SlackOutcome("drop", "something_new")),
    ],
)
def test_classify(status: int, error: str | None, expected: SlackOutcome) -> None:
    assert classify_slack_error(status, error, 7.0 if expected.retry_after else None) == expected


def test_update_and_post_reach_slack(slack: FakeSlackWebAPI, updater: SlackThreadUpdater) -> None:
    assert updater.update("C0FEEDBACK", "100.000002", notice_reply("hello")).kind == "sent"
    assert updater.post("C0FEEDBACK", "100.000001", "✅ Marked done in Productlane").kind == "sent"
    [update] = slack.calls("chat.update")
    assert update.params["ts"] == "100.000002"
    [post] = slack.calls("chat.postMessage")
    assert post.params["thread_ts"] == "100.000001"
    assert post.params["text"] == "✅ Marked done in Productlane"


def test_a_deleted_confirmation_is_dropped(slack: FakeSlackWebAPI, updater: SlackThreadUpdater) -> None:
    slack.respond("chat.update", {"ok": False, "error": "message_not_found"})
    assert updater.update("C0FEEDBACK", "1.2", notice_reply("x")) == SlackOutcome("drop", "message_not_found")


def test_the_bot_removed_from_the_channel_is_dropped(
    slack: FakeSlackWebAPI, updater: SlackThreadUpdater
) -> None:
    slack.add_channel("C0GONE", "gone", is_member=False, is_private=True)
    assert updater.post("C0GONE", "1.2", "x") == SlackOutcome("drop", "not_in_channel")
    slack.add_channel("C0OLD", "old", is_archived=True)
    assert updater.post("C0OLD", "1.2", "x") == SlackOutcome("drop", "is_archived")


def test_rate_limited_says_how_long_to_wait(slack: FakeSlackWebAPI, updater: SlackThreadUpdater) -> None:
    slack.respond(
        "chat.postMessage", {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "12"}
    )
    assert updater.post("C0FEEDBACK", "1.2", "x") == SlackOutcome("retry", "ratelimited", 12.0)


def test_a_server_error_is_retried(slack: FakeSlackWebAPI, updater: SlackThreadUpdater) -> None:
    slack.respond("chat.update", {"ok": False, "error": "fatal_error"}, status=500)
    assert updater.update("C0FEEDBACK", "1.2", notice_reply("x")).kind == "retry"


def test_no_answer_at_all_is_retried() -> None:
    # A port held, never listening: connections are refused, and no server of another test running
    # beside this one can take the port in the meantime (it answered once, and the post was dropped).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # No retry after the refused connection (slack_sdk's waits a second): the outcome is the same.
        client = WebClient(
            token=DEFAULT_BOT_TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=2, retry_handlers=[]
        )
        outcome = SlackThreadUpdater(client).post("C0FEEDBACK", "1.2", "x")
    assert outcome.kind == "retry"
    assert outcome.reason.startswith("chat.postMessage: ")

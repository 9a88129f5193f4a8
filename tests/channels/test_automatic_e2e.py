"""Automatic capture with two replicas on one database (SQLite and PostgreSQL), in socket mode and in
HTTP mode: a message Slack delivers again, and to both replicas, is filed once; what is not a person's
new top-level message is never filed; a message deleted before its turn is not sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ui.channel_views import CAPTURE_BLOCK, CONFIRM_BLOCK
from tests.backends import BACKENDS
from tests.channels.rig import (
    AUTHOR,
    CHANNEL,
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
from tests.fakes.slack import FakeSlack
from tests.running_bot import outbox_settled, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["socket", "http"])
def test_two_replicas_file_each_message_once_and_only_what_a_person_posted(
    mode: str, backend: str, tmp_path: Path
) -> None:
    url = database_url(backend, tmp_path)
    with FakeSlack() as slack, FakeSlack() as other_slack, FakeProductlane() as productlane:
        add_admin(slack)
        with replica(slack, productlane, tmp_path / "a", mode, url) as first:
            set_channel(first, {CAPTURE_BLOCK: "automatic", CONFIRM_BLOCK: "reaction"})
            # Started once the channel captures automatically: the second replica reads the settings
            # as it starts (how a replica learns of a change later: test_settings_e2e.py).
            with replica(other_slack, productlane, tmp_path / "b", mode, url) as second:
                both_file_once(first, second, slack, other_slack, productlane, url)


def both_file_once(
    first: Replica,
    second: Replica,
    slack: FakeSlack,
    other_slack: FakeSlack,
    productlane: FakeProductlane,
    url: str,
) -> None:
    # Slack delivers the message to both replicas, and again after a timeout.
    event = message_event(slack, "1764370001.000100", "Exports time out")
    first.event(event)
    second.event(event)
    first.event(event, retry_attempt=1)
    second.event(event, retry_attempt=2)

    # Not a person's new top-level message: nothing is filed for any of these.
    parent = "1764370001.000100"
    for bot, fake in ((first, slack), (second, other_slack)):
        bot.event(fake.message_event_payload("bot_message", channel=CHANNEL))
        bot.event(fake.message_event_payload("channel_join", channel=CHANNEL))
        bot.event(
            fake.message_event_payload(
                "message_changed",
                channel=CHANNEL,
                message={
                    "type": "message",
                    "user": AUTHOR,
                    "text": "Exports time out!!",
                    "ts": parent,
                },
            )
        )
        bot.event(message_event(fake, f"1764370002.00010{len(bot.mode)}", "A reply", thread_ts=parent))

    # Deleted before its turn: the first send gets no answer until the test says so, and the second
    # message waits behind it (a channel's messages go in the order they were posted).
    wait_until(lambda: threads_with(productlane, "Exports time out"), "the first thread")
    productlane.hold(path="/threads", method="POST")
    try:
        second.event(message_event(other_slack, "1764370003.000100", "Sent first"))
        wait_until(
            lambda: any("Sent first" in str(r.json) for r in productlane.requests_to("POST", "/threads")),
            "1st",
        )
        first.event(message_event(slack, "1764370003.000200", "Deleted in time"))
        second.event(deletion_event(other_slack, "1764370003.000200", "Deleted in time"))
        second.event(message_event(other_slack, "1764370003.000300", "Sent last"))
    finally:
        productlane.release()

    wait_until(lambda: threads_with(productlane, "Sent last"), "the last thread", 60)
    outbox_settled(url)  # nothing left that could file anything more
    titles = [thread["title"] for thread in productlane.threads]
    assert titles == ["Exports time out", "Sent first", "Sent last"]
    assert productlane.created_count == 3

"""End to end, follow-ups: the real `productlane-slack` process files a customer's
message; the customer's later replies in its Slack thread reach the Productlane thread as comments —
text and files, several close together in one write, once each across Slack's retries, in order —
while bots, the bot itself and deleted replies stay out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conversation.conversation_world import (
    CHANNEL,
    comments,
    delete_event,
    edit_event,
    file_message,
    reply_event,
    running,
    send,
    settled,
    wait_for_comments,
)
from tests.running_bot import World, fresh_fakes

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.xdist_group("conversation.test_followups_e2e"),
]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running(tmp_path_factory.mktemp("followups")) as world:
        yield world


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world.slack, world.productlane):
        yield


def texts(found: list[dict[str, Any]]) -> str:
    return " ".join(comment["content"] for comment in found)


def test_a_reply_in_the_thread_becomes_a_comment_with_who_and_when(world: World) -> None:
    thread_id = file_message(world, "1764300100.000100", "Exports fail for our EU workspace")
    reply_event(world, "1764300100.000100", "1764300160.000200", "It happens on mobile too")

    (comment,) = wait_for_comments(world, thread_id, 1)
    content = comment["content"]
    assert "<strong>Jane Doe</strong> in Slack, " in content
    assert "It happens on mobile too" in content
    # The time links back to the reply in Slack (and is how the bot recognises its comment later).
    assert re.search(
        r'<a href="[^"]*/archives/C0FEEDBACK/p1764300160000200[^"]*"[^>]*>\d\d:\d\d UTC</a>', content
    )
    # The thread's body was not touched: the follow-up is a comment.
    assert world.productlane.patch_count == 0


def test_several_replies_close_together_go_in_one_write_in_slacks_order(world: World) -> None:
    parent = "1764300200.000100"
    thread_id = file_message(world, parent, "The dashboard is slow")
    for index, words in enumerate(["first: it takes 30 s", "second: only on Mondays", "third: any news?"]):
        reply_event(world, parent, f"17643002{10 + index}.000100", words)
    (comment,) = wait_for_comments(world, thread_id, 1)
    content = comment["content"]
    assert content.index("first:") < content.index("second:") < content.index("third:")
    settled(world)
    assert len(comments(world, thread_id)) == 1
    assert world.productlane.conversation.comment_count >= 1


def test_slacks_retry_of_the_same_event_sends_it_once(world: World) -> None:
    parent = "1764300300.000100"
    thread_id = file_message(world, parent, "Invoices show the wrong VAT")
    payload = reply_event(world, parent, "1764300310.000100", "Also on the PDF")
    retried = dict(payload) | {"retry_attempt": 1}
    send(world, retried)
    send(world, payload)
    wait_for_comments(world, thread_id, 1)
    settled(world)  # nothing of this thread left to send
    assert texts(comments(world, thread_id)).count("Also on the PDF") == 1


def test_bots_and_the_bots_own_messages_are_not_follow_ups(world: World) -> None:
    parent = "1764300400.000100"
    thread_id = file_message(world, parent, "SSO login loops")
    slack = world.slack
    bot = slack.message_event_payload(
        "bot_message", channel=CHANNEL, thread_ts=parent, ts="1764300401.000100", text="Deploy bot says hi"
    )
    own = slack.message_event_payload(
        "own_reply",
        channel=CHANNEL,
        thread_ts=parent,
        ts="1764300402.000100",
        user=slack.web.calls("auth.test")[0].response["user_id"],
        bot_id=slack.web.calls("auth.test")[0].response["bot_id"],
        text="Our own reply",
    )
    send(world, bot)
    send(world, own)
    reply_event(world, parent, "1764300403.000100", "A person, at last")
    found = wait_for_comments(world, thread_id, 1)
    settled(world)
    assert "A person, at last" in texts(found)
    assert "Deploy bot" not in texts(comments(world, thread_id))
    assert "Our own reply" not in texts(comments(world, thread_id))


def test_a_reply_with_a_screenshot_copies_it_into_productlane(world: World) -> None:
    parent = "1764300500.000100"
    thread_id = file_message(world, parent, "Charts render blank")
    shot = world.slack.web.add_file(
        {
            "id": "F0FOLLOW01",
            "name": "mobile.png",
            "mimetype": "image/png",
            "filetype": "png",
            "pretty_type": "PNG",
            "size": len(PNG),
            "url_private": "x",
            "url_private_download": "x",
            "permalink": "https://acme.slack.com/files/U0CUST0003/F0FOLLOW01/mobile.png",
        },
        PNG,
    )
    reply_event(world, parent, "1764300510.000100", "screenshot", files=[shot])
    (comment,) = wait_for_comments(world, thread_id, 1)
    upload = next(u for u in world.productlane.uploads if u["name"] == "mobile.png")
    assert world.productlane.uploaded_bytes(upload["id"]) == PNG
    assert f'<img src="{upload["url"]}">' in comment["content"]


def test_a_reply_deleted_before_it_was_sent_is_never_sent(world: World) -> None:
    parent = "1764300600.000100"
    thread_id = file_message(world, parent, "Search misses recent docs")
    reply_event(world, parent, "1764300610.000100", "oops wrong thread, ignore")
    reply_event(world, parent, "1764300611.000100", "Docs from today are missing")
    delete_event(world, parent, "1764300610.000100")
    (comment,) = wait_for_comments(world, thread_id, 1)
    assert "Docs from today are missing" in comment["content"]
    assert "wrong thread" not in comment["content"]


def test_an_edit_before_sending_sends_the_new_words_and_after_sending_a_marked_copy(world: World) -> None:
    parent = "1764300700.000100"
    thread_id = file_message(world, parent, "Webhooks arrive twice")
    reply_event(world, parent, "1764300710.000100", "It happend twice")
    edit_event(world, parent, "1764300710.000100", "It happened twice")
    (first,) = wait_for_comments(world, thread_id, 1)
    assert "It happened twice" in first["content"]
    assert "happend" not in first["content"]
    edit_event(world, parent, "1764300710.000100", "It happened three times")
    found = wait_for_comments(world, thread_id, 2)
    assert "three times" in found[1]["content"]
    assert "(edited)" in found[1]["content"]

"""End to end, follow-ups when things go wrong: Productlane without comments (the PATCH
fallback, and what `check` says), an answer that never came, `kill -9` in the middle of a batch,
and FOLLOWUP_DAYS=0. Each reply reaches Productlane once, in Slack's order."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conversation.conversation_world import (
    BATCH,
    SCOPES,
    comments,
    file_message,
    reply_event,
    running,
    settled,
    wait_for_comments,
)
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.pace import TEST_LEASE_SECONDS
from tests.running_bot import bot_environment, run_command, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FAST_LEASE = {"DELIVERY_LEASE_SECONDS": str(TEST_LEASE_SECONDS)}


def patched_texts(productlane: FakeProductlane, thread_id: str) -> list[str]:
    return [
        str(request.json["text"])
        for request in productlane.requests_to("PATCH", f"/threads/{thread_id}")
        if isinstance(request.json, dict) and "text" in request.json and request.status == 200
    ]


def check_output(slack: FakeSlack, productlane: FakeProductlane, home: Path, **extra: str) -> str:
    env = bot_environment(slack, productlane, home / "outbox.db") | extra
    done = run_command([str(Path(__file__).parents[2] / ".venv/bin/productlane-slack"), "check"], env, home)
    return done.stdout


@pytest.mark.parametrize("refusal", ["no such endpoint (404)", "no comments:write (403)"])
def test_without_comments_the_body_becomes_the_whole_conversation(tmp_path: Path, refusal: str) -> None:
    scopes = tuple(s for s in SCOPES if s != "comments:write") if "403" in refusal else SCOPES
    with running(tmp_path, scopes=scopes) as world:
        productlane = world.productlane
        if "404" in refusal:
            productlane.conversation.comments_status = 404
        parent = "1764320100.000100"
        thread_id = file_message(world, parent, "Reports drop the last row")
        reply_event(world, parent, "1764320110.000100", "Also in the XLSX export")
        reply_event(world, parent, "1764320111.000100", "and the PDF one")
        body = wait_until(lambda: patched_texts(productlane, thread_id), "the body re-rendered", 30)[-1]
        # The whole conversation, in order, the filed message marked, each person named.
        assert (
            body.index("Reports drop the last row")
            < body.index("Also in the XLSX")
            < body.index("and the PDF")
        )
        assert "➤ @jane" in body
        assert "the message this feedback was sent from" in body
        assert productlane.conversation.comments == []
        assert "by re-rendering its body" in world.log_text()
        # Later follow-ups re-render it again, at most one write per FOLLOWUP_BATCH_SECONDS for the thread.
        reply_event(world, parent, "1764320120.000100", "any news?")
        wait_until(lambda: len(patched_texts(productlane, thread_id)) >= 2, "a second re-render", 30)
        first, second = productlane.requests_to("PATCH", f"/threads/{thread_id}")[:2]
        assert second.time - first.time >= BATCH - 0.1
        assert "any news?" in patched_texts(productlane, thread_id)[-1]
        said = check_output(world.slack, productlane, tmp_path)
    assert "✓ Follow-ups (Slack → Productlane):" in said
    assert "by re-rendering the thread's body (PATCH /threads/{id})" in said


def test_an_answer_that_never_came_is_looked_for_before_sending_again(tmp_path: Path) -> None:
    with running(tmp_path) as world:
        conversation = world.productlane.conversation
        parent = "1764320200.000100"
        thread_id = file_message(world, parent, "Slack notifications arrive late")
        conversation.fail_after_store(500)  # stored, then a 5xx
        reply_event(world, parent, "1764320210.000100", "about 20 minutes late")
        wait_for_comments(world, thread_id, 1)
        wait_until(lambda: conversation.listing_count >= 1, "the bot looking for its comment", 40)
        conversation.fail_after_store(drop=True)  # stored, then the connection dropped
        reply_event(world, parent, "1764320220.000100", "today it was an hour")
        wait_for_comments(world, thread_id, 2)
        wait_until(lambda: conversation.listing_count >= 2, "the bot looking again", 40)
        settled(world)
        found = comments(world, thread_id)
    assert len(found) == 2
    assert "about 20 minutes late" in found[0]["content"]
    assert "today it was an hour" in found[1]["content"]


def test_kill_9_mid_batch_then_restart_sends_each_follow_up_once_and_in_order(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        conversation = productlane.conversation
        parent = "1764320300.000100"
        with running(tmp_path, FAST_LEASE, slack=slack, productlane=productlane) as first:
            thread_id = file_message(first, parent, "Mentions are not notified")
            # The comment is stored, but its answer is held: the process dies before it hears.
            conversation.hold_after_store(30)
            reply_event(first, parent, "1764320310.000100", "one: also for groups")
            reply_event(first, parent, "1764320311.000100", "two: and for DMs")
            wait_until(lambda: len(conversation.comments_on(thread_id)) == 1, "the comment stored", 30)
            first.bot.send_signal(signal.SIGKILL)
            first.bot.wait(timeout=10)
            # Replies keep coming while no bot runs; Slack retries them until acked.
        productlane.reset_faults()
        with running(
            tmp_path, FAST_LEASE, slack=slack, productlane=productlane, log_name="second.log"
        ) as second:
            # The earlier batch is found in Productlane, not sent again.
            wait_until(
                lambda: "from an earlier attempt found" in second.log_text(), "the earlier comment found", 30
            )
            # This time the process dies with a reply kept but its batch not yet sent.
            reply_event(second, parent, "1764320320.000100", "three: still broken")
            wait_until(lambda: "1764320320.000100 (new): kept" in second.log_text(), "kept", 20)
            second.bot.send_signal(signal.SIGKILL)
            second.bot.wait(timeout=10)
        with running(
            tmp_path, FAST_LEASE, slack=slack, productlane=productlane, log_name="third.log"
        ) as third:
            reply_event(third, parent, "1764320330.000100", "four: thanks")
            wait_until(
                lambda: "four:" in " ".join(c["content"] for c in comments(third, thread_id)),
                "the last reply",
                60,
            )
            settled(third)
            found = comments(third, thread_id)
    text = " ".join(comment["content"] for comment in found)
    for word in ("one:", "two:", "three:", "four:"):
        assert text.count(word) == 1, (word, text)
    assert text.index("one:") < text.index("two:") < text.index("three:") < text.index("four:")


def test_followup_days_0_turns_follow_ups_off(tmp_path: Path) -> None:
    with running(tmp_path, {"FOLLOWUP_DAYS": "0"}) as world:
        parent = "1764320400.000100"
        thread_id = file_message_unfollowed(world, parent)
        reply_event(world, parent, "1764320410.000100", "is anyone there?")
        settled(world)
        assert comments(world, thread_id) == []
        assert world.productlane.patch_count == 0
        assert "follow-up" not in world.log_text()
        said = check_output(world.slack, world.productlane, tmp_path, FOLLOWUP_DAYS="0")
    assert "– Follow-ups (Slack → Productlane): off (FOLLOWUP_DAYS=0)" in said


def file_message_unfollowed(world, parent: str) -> str:  # type: ignore[no-untyped-def]
    """File a message where nothing will follow it (no "following" line to wait for)."""
    from bot.slack.ids import MESSAGE_SHORTCUT
    from tests.conversation.conversation_world import customer_message
    from tests.running_bot import interact, opened_view, since, submit

    message = customer_message(world.slack, parent, "Export everything at once")
    mark = time.monotonic()
    interact(world, world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=message))
    submit(world, opened_view(world, mark, refreshed=True), {})
    world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=20,
        predicate=lambda c: since(mark)(c) and c.params.get("thread_ts") == parent,
    )
    return str(world.productlane.threads[-1]["id"])

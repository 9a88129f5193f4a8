"""The confirmation in Slack after the thread was created: Slack refusing it for now (rate limited,
an error on its side) delays it, never duplicates the thread; where it lands is kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.delivery.outbox import Status
from bot.feedback.posted import PostLater
from bot.slack.lookups import SlackLookups
from bot.slack.replies import SlackMessenger
from bot.ui.notifier import SlackNotifier
from tests.delivery.worker_rig import SOURCE, THREAD_URL, Rig, TitleComposer, make_rig, submission
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import BOT_ID, FakeSlack
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)

# Slack sends whole seconds; the bot reads any number, and a quarter of a second is five times the
# rig's backoff (0.05 s): a confirmation posted again without honouring it would come far sooner.
RETRY_AFTER = 0.25


@dataclass
class World:
    slack: FakeSlack
    productlane: FakeProductlane
    rig: Rig


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        web = WebClient(token=slack.bot_token, base_url=slack.api_url)
        notifier = SlackNotifier(SlackMessenger(web, SlackLookups(web)))
        rig = make_rig(tmp_path, productlane, notifier=notifier)
        rig.worker.start()
        yield World(slack, productlane, rig)
        rig.close()


def confirmations(world: World) -> list[tuple[int, str]]:
    return [
        (call.status, str(call.response.get("error", "ok")))
        for call in world.slack.web.calls("chat.postMessage")
    ]


def test_a_rate_limited_confirmation_is_posted_after_retry_after_and_the_thread_is_created_once(
    world: World,
) -> None:
    world.slack.web.respond(
        "chat.postMessage",
        {"ok": False, "error": "ratelimited"},
        status=429,
        headers={"Retry-After": str(RETRY_AFTER)},
        times=1,
    )
    item_id = world.rig.intake.accept(submission("Export times out", source=True))
    world.rig.wait_settled(1)

    calls = world.slack.web.calls("chat.postMessage")
    assert confirmations(world) == [(429, "ratelimited"), (200, "ok")]
    assert calls[1].time - calls[0].time >= RETRY_AFTER * 0.95  # Retry-After, honoured
    assert calls[1].params["channel"] == SOURCE.channel_id
    assert calls[1].params["thread_ts"] == SOURCE.thread_ts
    assert world.productlane.post_count == 1
    assert world.productlane.created_count == 1
    item = world.rig.outbox.get(int(item_id))
    assert item is not None
    assert item.result is not None
    thread_id = world.productlane.threads[0]["id"]
    assert item.result | {"status": None, "updated_at": None, "body_sha256": None} == {
        "status": None,
        "updated_at": None,
        "body_sha256": None,
        "thread_id": thread_id,
        "url": f"https://productlane.test/feedback/{thread_id}",
        "reply": {
            "channel": SOURCE.channel_id,
            "ts": calls[1].response["ts"],
            "thread_ts": SOURCE.thread_ts,
            "ephemeral": False,
        },
    }


def test_slack_server_errors_on_the_confirmation_are_retried(world: World) -> None:
    world.slack.web.respond("chat.postMessage", {"ok": False, "error": "internal_error"}, status=500, times=1)
    world.slack.web.respond("chat.postMessage", {"ok": False, "error": "service_unavailable"}, times=1)
    item_id = world.rig.intake.accept(submission("Flaky Slack", source=True))
    world.rig.wait_settled(1)
    assert confirmations(world) == [(500, "internal_error"), (200, "service_unavailable"), (200, "ok")]
    assert world.productlane.created_count == 1
    item = world.rig.outbox.get(int(item_id))
    assert item is not None
    assert item.result is not None
    assert item.result["reply"]["channel"] == SOURCE.channel_id
    assert "reply_attempts" not in item.result


def test_while_the_confirmation_waits_the_item_says_so_and_keeps_its_thread(world: World) -> None:
    world.slack.web.respond(
        "chat.postMessage",
        {"ok": False, "error": "ratelimited"},
        status=429,
        headers={"Retry-After": "30"},
        times=1,
    )
    item_id = int(world.rig.intake.accept(submission("Waiting reply", source=True)))

    def waiting() -> bool:
        item = world.rig.outbox.get(item_id)
        return item is not None and item.status is Status.PENDING and item.result is not None

    wait_until(waiting, "the confirmation to wait")
    item = world.rig.outbox.get(item_id)
    assert item is not None
    assert item.result is not None
    assert item.result["thread_id"] == world.productlane.threads[0]["id"]
    assert item.last_error == "confirmation in Slack: ratelimited"
    # Made due again by an operator, it posts only the confirmation.
    assert world.rig.outbox.requeue(item_id)
    world.rig.wait_settled(1)
    assert world.productlane.post_count == 1
    assert confirmations(world) == [(429, "ratelimited"), (200, "ok")]


def test_a_thread_the_bot_can_never_post_in_falls_back_to_a_dm_and_stops(world: World) -> None:
    world.slack.web.respond("chat.postMessage", {"ok": False, "error": "is_archived"}, times=1)
    item_id = world.rig.intake.accept(submission("Archived channel", source=True))
    world.rig.wait_settled(1)
    assert confirmations(world) == [(200, "is_archived"), (200, "ok")]
    item = world.rig.outbox.get(int(item_id))
    assert item is not None
    assert item.result is not None
    reply = item.result["reply"]
    assert reply["channel"].startswith("D")
    assert reply["thread_ts"] is None


def test_slack_out_of_reach_is_a_moment_to_wait_not_a_place_to_give_up() -> None:
    # No retry after a refused connection (slack_sdk's waits a second): it changes nothing here.
    web = WebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/", timeout=2, retry_handlers=[])
    messenger = SlackMessenger(web, SlackLookups(web))
    notifier = SlackNotifier(messenger)
    with pytest.raises(PostLater):
        notifier.delivered(
            submission("Unreachable", source=True), TitleComposer().compose(submission("x")), "u"
        )


def crashed_after_recording_the_thread(rig: Rig, slack: FakeSlack, title: str) -> tuple[int, str]:
    """A process that claimed the item, created its thread and recorded it, then died: the item
    and the thread's link. Its lease runs out a moment later: a worker started now takes the item then."""
    item_id = int(rig.intake.accept(submission(title, source=True)))
    assert rig.outbox.claim("crashed/delivery-0", 1, lease_seconds=0.2)
    url = THREAD_URL.format(id="th_crashed")
    assert rig.outbox.record_thread(item_id, "crashed/delivery-0", {"thread_id": "th_crashed", "url": url})
    slack.web.add_message(
        SOURCE.channel_id, {"type": "message", "user": "U0CUST0001", "ts": SOURCE.ts, "text": "Export to CSV"}
    )
    return item_id, url


def status_of(rig: Rig, item_id: int) -> Status | None:
    item = rig.outbox.get(item_id)
    return item.status if item is not None else None


def reply_of(rig: Rig, item_id: int) -> dict[str, Any]:
    item = rig.outbox.get(item_id)
    assert item is not None
    assert item.result is not None
    reply: dict[str, Any] = item.result["reply"]
    return reply


@pytest.fixture
def unstarted(tmp_path: Path) -> Iterator[World]:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        web = WebClient(token=slack.bot_token, base_url=slack.api_url)
        notifier = SlackNotifier(SlackMessenger(web, SlackLookups(web)), bot_id=BOT_ID)
        rig = make_rig(tmp_path, productlane, notifier=notifier)
        yield World(slack, productlane, rig)
        rig.close()


def test_a_confirmation_posted_just_before_a_crash_is_found_not_posted_twice(unstarted: World) -> None:
    slack, rig = unstarted.slack, unstarted.rig
    item_id, url = crashed_after_recording_the_thread(rig, slack, "Export times out")
    # What the crashed process posted before it could record where.
    slack.web.add_message(
        SOURCE.channel_id,
        {
            "type": "message",
            "bot_id": BOT_ID,
            "ts": "1764252999.000300",
            "thread_ts": SOURCE.ts,
            "text": "Sent to Productlane by <@U0CSM0002>: Export times out",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*<{url}|Export times out>*"}}
            ],
        },
    )
    rig.worker.start()
    wait_until(lambda: status_of(rig, item_id) is Status.DELIVERED, "the item delivered")

    assert slack.web.calls("chat.postMessage") == []
    assert reply_of(rig, item_id)["ts"] == "1764252999.000300"
    assert unstarted.productlane.threads == [], "the thread is not created again either"


def test_a_crash_before_the_confirmation_was_posted_posts_it_once(unstarted: World) -> None:
    slack, rig = unstarted.slack, unstarted.rig
    item_id, url = crashed_after_recording_the_thread(rig, slack, "Export times out")
    rig.worker.start()
    wait_until(lambda: status_of(rig, item_id) is Status.DELIVERED, "the item delivered")

    (posted,) = slack.web.calls("chat.postMessage")
    assert posted.params["thread_ts"] == SOURCE.ts
    assert url in str(posted.params["blocks"])
    assert reply_of(rig, item_id)["ts"] == posted.response["ts"]


def test_a_rate_limited_confirmation_is_posted_again_without_reading_the_thread(world: World) -> None:
    busy = {"ok": False, "error": "ratelimited"}
    world.slack.web.respond("chat.postMessage", busy, status=429, headers={"Retry-After": "0.1"}, times=1)
    world.slack.web.add_message(
        SOURCE.channel_id, {"type": "message", "user": "U0CUST0001", "ts": SOURCE.ts, "text": "Export to CSV"}
    )
    world.rig.intake.accept(submission("Export times out", source=True))
    world.rig.wait_settled(1)

    assert confirmations(world) == [(429, "ratelimited"), (200, "ok")]
    assert world.slack.web.calls("conversations.replies") == [], "Slack said no: nothing was posted"


def test_a_confirmation_slack_never_answered_is_looked_for_before_it_is_posted_again(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        # slack_sdk's type says a whole number of seconds; urllib takes any.
        web = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=0.3)  # type: ignore[arg-type]
        rig = make_rig(tmp_path, productlane, notifier=SlackNotifier(SlackMessenger(web, SlackLookups(web))))
        try:
            slack.web.add_message(
                SOURCE.channel_id,
                {"type": "message", "user": "U0CUST0001", "ts": SOURCE.ts, "text": "Export to CSV"},
            )
            slack.web.respond("chat.postMessage", {"ok": True, "ts": "1.000001"}, delay=0.6, times=1)
            rig.intake.accept(submission("Export times out", source=True))
            rig.worker.start()
            rig.wait_settled(1)
        finally:
            rig.close()

        posts = slack.web.calls("chat.postMessage")
        lookups = slack.web.calls("conversations.replies")
    assert len(posts) == 2
    assert len(lookups) == 1
    assert posts[0].time < lookups[0].time < posts[1].time

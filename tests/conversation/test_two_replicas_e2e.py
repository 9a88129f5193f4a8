"""End to end, two replicas of the real process in HTTP mode on one PostgreSQL database, as behind a
load balancer: the replica that did not file a message learns that its thread is followed, and
replies arriving at either replica — and Slack's retries arriving at the other — reach Productlane
once each, in Slack's order."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conversation.conversation_world import BATCH, CHANNEL, CUSTOMER, SCOPES
from tests.databases import fresh_postgres
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import since, wait_until
from tests.web.client import request, signed_headers
from tests.web.test_http_mode import HttpBot, start_http_bot, stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PARENT = "1764330100.000100"


def post_event(bot: HttpBot, slack: FakeSlack, event: dict[str, object], event_id: str | None = None) -> None:
    body = json.dumps(slack.events_api_payload(event, event_id=event_id)).encode()
    answer = request(
        bot.port, "POST", "/slack/events", body, signed_headers(body) | {"Content-Type": "application/json"}
    )
    assert answer.status == 200


def reply(slack: FakeSlack, ts: str, text: str) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": CUSTOMER,
        "team": "T0ACME0001",
        "text": text,
        "ts": ts,
        "thread_ts": PARENT,
        "event_ts": ts,
    }
    slack.web.add_message(CHANNEL, {k: v for k, v in event.items() if k != "channel"})
    return event


def test_two_replicas_follow_the_same_threads_and_send_each_reply_once_in_order(tmp_path: Path) -> None:
    database = fresh_postgres()
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        env = {"DATABASE_URL": database, "FOLLOWUP_BATCH_SECONDS": str(BATCH)}
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = start_http_bot(slack, productlane, tmp_path / "a", **env)
        b = start_http_bot(slack, productlane, tmp_path / "b", **env)
        try:
            slack.web.add_message(
                CHANNEL,
                {"type": "message", "user": CUSTOMER, "ts": PARENT, "text": "Exports fail on Fridays"},
            )
            mark = time.monotonic()
            reaction = slack.reaction_added_payload(PARENT, user="U0CSM0002")
            body = json.dumps(reaction).encode()
            headers = signed_headers(body) | {"Content-Type": "application/json"}
            assert request(a.port, "POST", "/slack/events", body, headers).status == 200
            slack.web.wait_for_call(
                "chat.postMessage",
                timeout=20,
                predicate=lambda c: since(mark)(c) and c.params.get("thread_ts") == PARENT,
            )
            thread_id = productlane.threads[-1]["id"]
            wait_until(lambda: "following the Slack thread" in a.world.log_text(), "replica a follows", 10)

            # Replica b learns of it from the database (how soon: its refresh of the followed threads);
            # until then Slack's retries of the reply find it not following the thread.
            def b_kept_it() -> bool:
                post_event(b, slack, reply(slack, "1764330110.000100", "one: since the update"))
                if "1764330110.000100 (new): kept" in b.world.log_text():
                    return True
                time.sleep(0.2)
                return False

            wait_until(b_kept_it, "replica b to learn that the thread is followed", 60)
            # The rest arrive at either replica; Slack's retries may arrive at the other one.
            two, three = (
                reply(slack, "1764330111.000100", "two: EU only"),
                reply(slack, "1764330112.000100", "three: help"),
            )
            post_event(a, slack, two, "Ev2")
            post_event(b, slack, two, "Ev2")
            post_event(b, slack, three, "Ev3")
            post_event(a, slack, three, "Ev3")
            wait_until(
                lambda: (
                    "three:"
                    in " ".join(c["content"] for c in productlane.conversation.comments_on(thread_id))
                ),
                "every reply in Productlane",
                40,
            )
            time.sleep(BATCH + 1)  # past the thread's next write window: a duplicate would be there
        finally:
            status_a, status_b = stop(a), stop(b)
    text = " ".join(c["content"] for c in productlane.conversation.comments_on(thread_id))
    for word in ("one:", "two:", "three:"):
        assert text.count(word) == 1, (word, text)
    assert text.index("one:") < text.index("two:") < text.index("three:")
    assert (status_a, status_b) == (0, 0)

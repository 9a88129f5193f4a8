"""Close the loop: what happens in Productlane shows up in the Slack thread.

The fake Productlane sends real signed webhook requests (retrying non-2xx answers) to a loopback
server around `receive_webhook`; the updates worker applies them on a real outbox database
(SQLite, and PostgreSQL when TEST_DATABASE_URL is set) and talks to the fake Slack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.updates import MAX_BODY_BYTES
from tests.backends import BACKENDS
from tests.databases import database_url
from tests.fakes.productlane_webhooks import post, signed_headers
from tests.updates.rig import SECRET, Rig, running_rig

pytestmark = pytest.mark.timeout(60)

DONE = "✅ Marked done in Productlane"


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    with running_rig(database_url(request.param, tmp_path)) as running:
        yield running


def test_done_updates_the_confirmation_and_posts_one_done_reply_in_the_thread(rig: Rig) -> None:
    thread_id = rig.new_thread()
    rig.new_thread(thread_ts="1700000099.000100", reply_ts="1700000099.000200")  # a bystander
    rig.productlane.set_thread_status(thread_id, "done")
    rig.settle()
    assert rig.posts() == [DONE]
    [post_call] = rig.slack.calls("chat.postMessage")
    assert post_call.params["channel"] == "C0FEEDBACK"
    [edit] = rig.edits()
    assert edit.params["channel"] == "C0FEEDBACK"
    assert rig.last_status_line() == "Status in Productlane: Done"
    # The edit is the confirmation as it was, plus the status line.
    assert "Export to CSV times out" in edit.params["blocks"][0]["text"]["text"]
    assert "jane@customer.example" in edit.params["blocks"][1]["elements"][0]["text"]
    assert rig.edits("1700000099.000200") == []


def test_a_link_then_the_issue_completed_posts_shipped_once(rig: Rig) -> None:
    thread_id = rig.new_thread()
    issue = rig.productlane.seed_issue("CSV export v2")
    rig.productlane.link_thread(thread_id, issue_id=issue["id"])
    rig.settle()
    assert rig.last_status_line() == "Status in Productlane: Open · Linked to CSV export v2"
    rig.productlane.complete_issue(issue["id"])
    rig.settle()
    rig.productlane.complete_issue(issue["id"])  # a second completion event (reopened and closed)
    rig.settle()
    assert rig.posts() == ["🚀 Shipped: CSV export v2"]
    assert rig.last_status_line() == "Status in Productlane: Open · Linked to CSV export v2 (shipped)"


def test_a_completed_project_ships_the_threads_linked_to_it(rig: Rig) -> None:
    first, second = (
        rig.new_thread(),
        rig.new_thread(thread_ts="1700000001.000100", reply_ts="1700000001.000200"),
    )
    project = rig.productlane.seed_project("Reporting revamp")
    rig.productlane.link_thread(first, project_id=project["id"])
    rig.productlane.link_thread(second, project_id=project["id"])
    rig.productlane.complete_project(project["id"])
    rig.settle()
    assert rig.posts() == ["🚀 Shipped: Reporting revamp"]
    assert rig.posts("1700000001.000100") == ["🚀 Shipped: Reporting revamp"]


def test_the_same_event_delivered_three_times_has_one_effect(rig: Rig) -> None:
    thread_id = rig.new_thread()
    snapshot = rig.productlane.set_thread_status(thread_id, "done", emit=False)
    for _ in range(3):
        rig.productlane.emit("thread.status_changed", snapshot, event_id="evt_same_0001")
    rig.settle()
    attempts = rig.productlane.webhooks.attempts_for("evt_same_0001")
    assert [a.status for a in attempts] == [200, 200, 200]
    assert rig.posts() == [DONE]
    assert len(rig.edits()) == 1


def test_an_older_snapshot_after_a_newer_one_leaves_the_newer_status(rig: Rig) -> None:
    thread_id = rig.new_thread()
    snoozed = rig.productlane.set_thread_status(thread_id, "snoozed", emit=False)
    done = rig.productlane.set_thread_status(thread_id, "done", emit=False)
    rig.productlane.emit("thread.status_changed", done)
    rig.settle()
    rig.productlane.emit("thread.status_changed", snoozed)  # arrives late
    rig.settle()
    assert rig.last_status_line() == "Status in Productlane: Done"
    assert len(rig.edits()) == 1
    assert rig.posts() == [DONE]


def test_slack_connect_threads_hear_done_and_shipped_without_internal_names(rig: Rig) -> None:
    thread_id = rig.new_thread(slack_connect=True)
    issue = rig.productlane.seed_issue("Project Falcon: fix the exporter")
    rig.productlane.link_thread(thread_id, issue_id=issue["id"])
    rig.productlane.complete_issue(issue["id"])
    rig.productlane.update_thread(thread_id, assignee={"id": "usr_1", "name": "Priya PM"})
    rig.productlane.set_thread_status(thread_id, "done")
    rig.settle()
    assert rig.posts() == ["🚀 Shipped", DONE]
    said = json.dumps([c.params for c in rig.slack.calls()])
    for internal in ("Falcon", "exporter", "Priya"):
        assert internal not in said
    assert rig.last_status_line() == "Status in Productlane: Done"


def test_a_thread_deleted_in_productlane_says_so(rig: Rig) -> None:
    thread_id = rig.new_thread()
    rig.productlane.delete_thread(thread_id)
    rig.settle()
    assert rig.last_status_line() == "Removed from Productlane"
    assert rig.posts() == []


def test_threads_the_bot_did_not_create_are_ignored(rig: Rig) -> None:
    other = rig.productlane.seed_thread({"text": "<p>x</p>", "contact_email": "x@example.com"})
    rig.productlane.set_thread_status(other["id"], "done")
    rig.productlane.emit("comment.created", {"id": "cm_1", "thread_id": other["id"]})
    rig.settle()
    assert rig.slack.calls("chat.update") == []
    assert rig.slack.calls("chat.postMessage") == []
    assert rig.updates.store.counts() == {"events.applied": 1}  # the comment was not even kept


def test_forged_unsigned_stale_and_oversized_requests_are_refused_and_reach_nobody(rig: Rig) -> None:
    thread_id = rig.new_thread()
    snapshot = rig.productlane.set_thread_status(thread_id, "done", emit=False)
    body = json.dumps({"id": "evt_evil", "type": "thread.status_changed", "data": snapshot}).encode()
    good = signed_headers(body, SECRET, event_type="thread.status_changed", event_id="evt_evil")
    unsigned = {k: v for k, v in good.items() if k != "Productlane-Signature"}
    forged = signed_headers(body, "whsec_guessed", event_type="thread.status_changed", event_id="evt_evil")
    stale = signed_headers(
        body,
        SECRET,
        event_type="thread.status_changed",
        event_id="evt_evil",
        timestamp=int(time.time()) - 600,
    )
    future = signed_headers(
        body,
        SECRET,
        event_type="thread.status_changed",
        event_id="evt_evil",
        timestamp=int(time.time()) + 600,
    )
    assert post(rig.endpoint.url, body, unsigned)[0] == 401
    assert post(rig.endpoint.url, body, forged)[0] == 401
    assert post(rig.endpoint.url, body, stale)[0] == 401
    assert post(rig.endpoint.url, body, future)[0] == 401
    assert post(rig.endpoint.url, body.replace(b'"done"', b'"open"'), good)[0] == 401
    oversized = body[:-1] + b', "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    big_headers = signed_headers(oversized, SECRET, event_type="thread.status_changed", event_id="evt_big")
    assert post(rig.endpoint.url, oversized, big_headers)[0] == 413
    rig.settle()
    assert rig.updates.store.counts() == {}
    assert rig.slack.calls() == []
    # The genuine request still works afterwards.
    assert post(rig.endpoint.url, body, good)[0] == 200
    rig.settle()
    assert rig.posts() == [DONE]


def test_productlane_retries_refused_deliveries_until_dead_and_nothing_reaches_slack(tmp_path: Path) -> None:
    with running_rig(database_url("sqlite", tmp_path), subscribe=False, webhook_time_scale=0.000001) as rig:
        rig.productlane.add_webhook(rig.endpoint.url, "whsec_not_the_bots")
        thread_id = rig.new_thread()
        event = rig.productlane.set_thread_status(thread_id, "done")
        assert rig.productlane.webhooks.wait_for(lambda s: bool(s.dead), timeout=20)
        attempts = rig.productlane.webhooks.attempts_for(rig.productlane.webhooks.dead[0][1])
        assert [a.status for a in attempts] == [401] * 7  # the first try and six retries
        assert len({a.delivery_id for a in attempts}) == 7
        assert event["status"] == "done"
        rig.settle()
        assert rig.slack.calls() == []


def test_a_retried_delivery_after_a_failure_is_applied_once(tmp_path: Path) -> None:
    with running_rig(database_url("sqlite", tmp_path), webhook_time_scale=0.0001) as rig:
        thread_id = rig.new_thread()
        answers = iter([500, 502])
        real = rig.endpoint.receive

        def flaky(body: bytes, headers: object) -> tuple[int, dict[str, object]]:
            status = next(answers, None)
            if status is not None:
                return status, {"ok": False}
            return real(body, headers)  # type: ignore[arg-type]

        rig.endpoint.receive = flaky
        rig.productlane.set_thread_status(thread_id, "done")
        rig.settle()
        [attempt] = {a.event_id for a in rig.productlane.webhooks.attempts}
        assert [a.status for a in rig.productlane.webhooks.attempts_for(attempt)] == [500, 502, 200]
        assert rig.posts() == [DONE]


def test_slack_refusing_the_edit_drops_it_and_the_done_reply_still_goes(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.slack.respond("chat.update", {"ok": False, "error": "message_not_found"})
    thread_id = rig.new_thread()
    rig.productlane.set_thread_status(thread_id, "done")
    rig.settle()
    assert rig.posts() == [DONE]
    assert rig.updates.store.counts()["effects.dropped"] == 1
    assert [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()] == [
        f"thread {thread_id}: edit of the confirmation dropped: message_not_found"
    ]
    assert rig.updates.problems() == []


def test_slack_rate_limits_are_waited_out(rig: Rig) -> None:
    rig.slack.respond(
        "chat.postMessage",
        {"ok": False, "error": "ratelimited"},
        status=429,
        # Slack sends whole seconds; the bot reads any number (and waits it instead of its backoff).
        headers={"Retry-After": "0.25"},
        times=1,
    )
    thread_id = rig.new_thread()
    rig.productlane.set_thread_status(thread_id, "done")
    rig.settle()
    calls = rig.slack.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].time - calls[0].time >= 0.22  # not before Slack's Retry-After
    assert rig.posts() == [DONE, DONE]  # the refused call, then the one that landed
    assert rig.updates.store.counts()["effects.done"] == 2


def test_names_are_left_out_when_the_key_may_not_read_issues(tmp_path: Path) -> None:
    with running_rig(database_url("sqlite", tmp_path), scopes=("threads:read", "threads:write")) as rig:
        thread_id = rig.new_thread()
        issue = rig.productlane.seed_issue("Secret name")
        rig.productlane.link_thread(thread_id, issue_id=issue["id"])
        rig.settle()
        assert rig.last_status_line() == "Status in Productlane: Open · Linked to an issue"
        # issue.completed carries the issue's snapshot, whose name is Productlane's own word.
        rig.productlane.complete_issue(issue["id"])
        rig.settle()
        assert rig.posts() == ["🚀 Shipped: Secret name"]
        asked = rig.productlane.requests_to("GET", f"/issues/{issue['id']}")
        assert [r.status for r in asked] == [403]  # asked once, then no more


def test_settings_turn_each_kind_of_update_off(tmp_path: Path) -> None:
    with running_rig(
        database_url("sqlite", tmp_path),
        updates_edit_confirmation=False,
        updates_post_done=False,
        updates_post_shipped=True,
    ) as rig:
        thread_id = rig.new_thread()
        issue = rig.productlane.seed_issue("Dark mode")
        rig.productlane.link_thread(thread_id, issue_id=issue["id"])
        rig.productlane.set_thread_status(thread_id, "done")
        rig.productlane.complete_issue(issue["id"])
        rig.settle()
        assert rig.slack.calls("chat.update") == []
        assert rig.posts() == ["🚀 Shipped: Dark mode"]


def test_two_replicas_receiving_every_event_apply_each_once(url: str) -> None:
    with running_rig(url) as first, running_rig(url, subscribe=False) as second:
        # Productlane delivers to both (a load balancer would pick one; both is the harder case).
        first.productlane.add_webhook(second.endpoint.url, SECRET)
        thread_id = first.new_thread()
        issue = first.productlane.seed_issue("CSV export v2")
        first.productlane.link_thread(thread_id, issue_id=issue["id"])
        first.productlane.set_thread_status(thread_id, "done")
        first.productlane.complete_issue(issue["id"])
        first.settle()
        second.settle()
        posts = [c.params["text"] for s in (first, second) for c in s.slack.calls("chat.postMessage")]
        assert sorted(posts) == sorted([DONE, "🚀 Shipped: CSV export v2"])
        assert first.updates.store.counts()["events.applied"] == 3

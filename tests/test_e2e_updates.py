"""End to end, the loop closed: the real `productlane-slack` process creates a thread from a message
shortcut, then Productlane's signed webhooks (sent by the fake, retried as the real one retries) or,
without a webhook secret, polling bring "done" and "shipped" back into that Slack thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlack, make_channel
from tests.running_bot import (
    World,
    bot_environment,
    count_rows,
    fresh_fakes,
    interact,
    opened_view,
    since,
    start_bot,
    submit,
    updates_settled,
    wait_until,
)
from tests.web.client import SlowUpload

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120), pytest.mark.xdist_group("test_e2e_updates")]

SECRET = "whsec_e2e_0123456789abcdef"
SOURCE_CHANNEL = "C0FEEDBACK"
SOURCE_TS = "1764252900.000100"


@contextmanager
def running(home: Path, extra: dict[str, str]) -> Iterator[World]:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, home / "outbox.db") | extra
        world = start_bot(slack, productlane, env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "connected to Slack" in world.log_text(), "the connected line", 30)
            yield world
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
        assert world.bot.returncode == 0, world.log_text()
        assert SECRET not in world.log_text()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The bot with webhooks on; the fake Productlane delivers to its PORT."""
    with running(tmp_path_factory.mktemp("webhooks"), {"PRODUCTLANE_WEBHOOK_SECRET": SECRET}) as world:
        wait_until(lambda: "listening on port" in world.log_text(), "the webhook route", 30)
        world.productlane.add_webhook(webhook_url(world), SECRET)
        yield world


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world.slack, world.productlane):
        yield


def webhook_port(world: World) -> int:
    """The PORT the bot says it listens on."""
    text = world.log_text()
    marker = "listening on port "
    return int(text[text.index(marker) + len(marker) :].split()[0])


def webhook_url(world: World) -> str:
    """Where Productlane is told to deliver."""
    return f"http://127.0.0.1:{webhook_port(world)}/productlane/webhooks"


def send_feedback(world: World, *, channel: str = SOURCE_CHANNEL, ts: str = SOURCE_TS) -> tuple[str, Call]:
    """The message shortcut on a customer's message, submitted: the thread id and the confirmation."""
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT)
    payload["message"]["ts"] = ts
    payload["channel"] = {"id": channel, "name": "feedback"}
    interact(world, payload)
    submit(world, opened_view(world, mark, refreshed=True), {})
    # In this message's thread: a reply the previous test's thread gets late is not this one.
    confirmation = world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=15,
        predicate=lambda c: (
            since(mark)(c) and c.params.get("channel") == channel and c.params.get("thread_ts") == ts
        ),
    )
    thread_id = world.productlane.threads[-1]["id"]
    wait_remembered(world, thread_id)
    return thread_id, confirmation


def wait_remembered(world: World, thread_id: str) -> None:
    """The bot keeps a thread's Slack side a moment after posting its confirmation; Productlane's
    news of a thread the bot does not know yet is ignored, as for any thread not its own."""
    database = world.log.parent / "outbox.db"
    query = "SELECT count(*) FROM updates_threads WHERE thread_id = ?"
    wait_until(lambda: count_rows(database, query, thread_id), "the thread remembered", 15)


def replies_after(world: World, mark: float, text: str) -> list[Call]:
    return [
        call
        for call in world.slack.web.calls("chat.postMessage")
        if since(mark)(call) and text in json.dumps(call.params, ensure_ascii=False)
    ]


def says(calls: list[Call], text: str) -> bool:
    return any(text in json.dumps(call.params, ensure_ascii=False) for call in calls)


def updates_of(world: World, mark: float, ts: str) -> list[Call]:
    """The bot's edits of its message at `ts` since `mark`."""
    return [
        call
        for call in world.slack.web.calls("chat.update")
        if since(mark)(call) and call.params.get("ts") == ts
    ]


def test_done_in_productlane_updates_the_confirmation_and_says_so_once_in_the_thread(world: World) -> None:
    thread_id, confirmation = send_feedback(world)
    mark = time.monotonic()
    world.productlane.set_thread_status(thread_id, "done")

    done = wait_until(lambda: replies_after(world, mark, "Marked done in Productlane"), "the done reply", 20)
    assert done[0].params["channel"] == SOURCE_CHANNEL
    assert done[0].params["thread_ts"] == SOURCE_TS
    edited = wait_until(
        lambda: updates_of(world, mark, confirmation.response["ts"]), "the confirmation edited", 20
    )
    assert "Done" in json.dumps(edited[-1].params, ensure_ascii=False)

    # Done again later (reopened, then done): the milestone is never announced twice.
    world.productlane.set_thread_status(thread_id, "open")
    world.productlane.set_thread_status(thread_id, "done")
    updates_settled(world)
    assert len(replies_after(world, mark, "Marked done in Productlane")) == 1


def test_a_status_change_keeps_the_edit_details_button_of_a_reply_filed_by_reaction(world: World) -> None:
    ts = "1764252950.000100"
    world.slack.web.add_message(
        SOURCE_CHANNEL, {"type": "message", "user": "U0CUST0003", "ts": ts, "text": "Dark mode please"}
    )
    mark = time.monotonic()
    interact(world, world.slack.reaction_added_payload(ts, user="U0CSM0002"), kind="events_api")
    confirmation = world.slack.web.wait_for_call(
        "chat.postMessage", timeout=15, predicate=lambda c: since(mark)(c) and c.params.get("thread_ts") == ts
    )
    assert "Edit details" in json.dumps(confirmation.params["blocks"])
    thread_id = next(t["id"] for t in world.productlane.threads if "Dark mode please" in t["text"])
    wait_remembered(world, thread_id)

    changed = time.monotonic()
    world.productlane.set_thread_status(thread_id, "done")
    edited = wait_until(
        lambda: updates_of(world, changed, confirmation.response["ts"]), "the confirmation edited", 20
    )
    shown = json.dumps(edited[-1].params["blocks"], ensure_ascii=False)
    assert "Status in Productlane: Done" in shown
    assert "Edit details" in shown


def test_a_link_then_the_issue_completed_posts_shipped_once(world: World) -> None:
    thread_id, confirmation = send_feedback(world, ts="1764252901.000100")
    issue = world.productlane.seed_issue("CSV export streams rows")
    mark = time.monotonic()
    world.productlane.link_thread(thread_id, issue_id=issue["id"])
    ts = confirmation.response["ts"]
    wait_until(lambda: says(updates_of(world, mark, ts), "Linked to"), "the link shown", 20)
    world.productlane.complete_issue(issue["id"])
    shipped = wait_until(lambda: replies_after(world, mark, "Shipped"), "the shipped reply", 20)
    assert "CSV export streams rows" in json.dumps(shipped[0].params, ensure_ascii=False)
    assert shipped[0].params["thread_ts"] == "1764252901.000100"
    updates_settled(world)
    assert len(replies_after(world, mark, "Shipped")) == 1


def test_the_same_event_delivered_three_times_has_one_effect(world: World) -> None:
    thread_id, _ = send_feedback(world, ts="1764252902.000100")
    mark = time.monotonic()
    snapshot = world.productlane.set_thread_status(thread_id, "done", emit=False)
    for _ in range(3):
        world.productlane.emit("thread.status_changed", snapshot, event_id="evt_e2e_same")
    wait_until(lambda: replies_after(world, mark, "Marked done in Productlane"), "the done reply", 20)
    updates_settled(world)
    assert len(replies_after(world, mark, "Marked done in Productlane")) == 1


def test_an_older_snapshot_after_a_newer_one_leaves_the_newer_status(world: World) -> None:
    thread_id, confirmation = send_feedback(world, ts="1764252903.000100")
    older = world.productlane.set_thread_status(thread_id, "snoozed", emit=False)
    mark = time.monotonic()
    world.productlane.set_thread_status(thread_id, "done")
    wait_until(lambda: replies_after(world, mark, "Marked done in Productlane"), "the done reply", 20)
    world.productlane.emit("thread.status_changed", older)  # arrives late
    updates_settled(world)
    last = updates_of(world, mark, confirmation.response["ts"])[-1]
    assert "Done" in json.dumps(last.params, ensure_ascii=False)
    assert "Snoozed" not in json.dumps(last.params, ensure_ascii=False)


def test_a_slack_connect_thread_hears_done_and_shipped_without_internal_names(world: World) -> None:
    world.slack.web.channels["C0SHARED02"] = make_channel(
        "C0SHARED02", "acme-customer", is_ext_shared=True, is_shared=True, is_member=True
    )
    thread_id, _ = send_feedback(world, channel="C0SHARED02", ts="1764252904.000100")
    issue = world.productlane.seed_issue("Internal codename Falcon")
    mark = time.monotonic()
    world.productlane.link_thread(thread_id, issue_id=issue["id"])
    world.productlane.complete_issue(issue["id"])
    world.productlane.set_thread_status(thread_id, "done")
    wait_until(lambda: replies_after(world, mark, "Shipped"), "the shipped reply", 20)
    wait_until(lambda: replies_after(world, mark, "Marked done"), "the done reply", 20)
    updates_settled(world)
    said = [
        c.params for c in world.slack.web.calls("chat.postMessage") + world.slack.web.calls("chat.update")
    ]
    in_channel = [json.dumps(p, ensure_ascii=False) for p in said if p.get("channel") == "C0SHARED02"]
    assert in_channel
    assert not [text for text in in_channel if "Falcon" in text]


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "Productlane-Event": "thread.status_changed",
        "Productlane-Event-Id": "evt_e2e_refused",
        "Productlane-Signature": f"t={timestamp},v1={digest}",
    }


def post(world: World, body: bytes, headers: dict[str, str]) -> int:
    request = Request(webhook_url(world), data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except HTTPError as error:
        return int(error.code)


def test_forged_unsigned_stale_and_oversized_requests_are_refused_and_reach_no_one(world: World) -> None:
    thread_id, _ = send_feedback(world, ts="1764252905.000100")
    snapshot = world.productlane.set_thread_status(thread_id, "done", emit=False)
    body = json.dumps({"id": "evt_e2e_refused", "type": "thread.status_changed", "data": snapshot}).encode()
    mark = time.monotonic()
    assert post(world, body, {"Content-Type": "application/json"}) == 401
    assert post(world, body, signed(body, secret="whsec_someone_else")) == 401
    assert post(world, body, signed(body, at=int(time.time()) - 600)) == 401
    big = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    # Refused on its declared length, before a byte of the body is read (only the headers go out).
    oversized = SlowUpload(webhook_port(world), "/productlane/webhooks", big, signed(big))
    assert oversized.answer().status == 413
    updates_settled(world)
    assert replies_after(world, mark, "Marked done") == []
    assert updates_of_any(world, mark) == []
    assert "x" * 100 not in world.log_text()


def test_dedupe_trusts_the_signed_body_never_the_unsigned_event_id_header(world: World) -> None:
    # Bodies without an id: one header id on two different events must not make the second a
    # duplicate, and a new header id on a body already received must not apply it again.
    first_id, _ = send_feedback(world, ts="1764252906.000100")
    second_id, _ = send_feedback(world, ts="1764252907.000100")
    mark = time.monotonic()
    bodies = [
        json.dumps(
            {
                "type": "thread.status_changed",
                "data": world.productlane.set_thread_status(t, "done", emit=False),
            }
        ).encode()
        for t in (first_id, second_id)
    ]
    headers = signed(bodies[0]) | {"Productlane-Event-Id": "evt_e2e_reused"}
    assert post(world, bodies[0], headers) == 200
    assert post(world, bodies[1], signed(bodies[1]) | {"Productlane-Event-Id": "evt_e2e_reused"}) == 200
    assert post(world, bodies[0], signed(bodies[0]) | {"Productlane-Event-Id": "evt_e2e_fresh"}) == 200
    wait_until(lambda: len(replies_after(world, mark, "Marked done in Productlane")) >= 2, "both done", 20)
    updates_settled(world)
    done = replies_after(world, mark, "Marked done in Productlane")
    assert sorted(str(call.params.get("thread_ts")) for call in done) == [
        "1764252906.000100",
        "1764252907.000100",
    ]


def updates_of_any(world: World, mark: float) -> list[Call]:
    return [call for call in world.slack.web.calls("chat.update") if since(mark)(call)]


def test_without_a_webhook_secret_polling_brings_done_at_the_threads_next_look(tmp_path: Path) -> None:
    interval = 0.2  # not the default minute: the test is about the look, not how often it comes
    with running(tmp_path, {"PRODUCTLANE_POLL_SECONDS": str(interval)}) as world:
        # Logged just after the connected line.
        wait_until(lambda: f"polling every {interval:g} s" in world.log_text(), "the polling line")
        thread_id, _ = send_feedback(world)
        mark = time.monotonic()
        changed_at = time.time()  # the fake Productlane records requests in wall-clock time
        world.productlane.set_thread_status(thread_id, "done", emit=False)  # no webhook at all
        done = wait_until(lambda: replies_after(world, mark, "Marked done"), "the done reply", 30)
        assert done[0].params["thread_ts"] == SOURCE_TS
        # Noticed at the thread's next look (no webhook could have told it), then posted.
        looks = world.productlane.requests_to("GET", f"/threads/{thread_id}")
        assert [look for look in looks if look.time >= changed_at]

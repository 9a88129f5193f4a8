"""The fake Productlane's webhooks: real signed POSTs with the documented headers, retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.updates.signature import verify_signature
from tests.fakes.productlane import FakeProductlane

pytestmark = pytest.mark.timeout(30)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Listener:
    """A bare HTTP server that records what it receives and answers the statuses it is given."""

    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def listener() -> Iterator[Listener]:
    state = Listener()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append(Received(dict(self.headers.items()), body))
                status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeProductlane]:
    with FakeProductlane(webhook_time_scale=0.0005) as server:
        yield server


def test_a_change_is_delivered_signed_with_the_documented_headers(
    fake: FakeProductlane, listener: Listener
) -> None:
    _webhook_id, secret = fake.add_webhook(listener.url)
    thread = fake.seed_thread({"text": "<p>x</p>", "contact_email": "jane@customer.example"})
    snapshot = fake.set_thread_status(thread["id"], "done")
    assert fake.webhooks.wait_idle()
    [got] = listener.received
    event = json.loads(got.body)
    assert event["type"] == "thread.status_changed"
    assert event["data"] == snapshot
    assert event["id"].startswith("evt_")
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == "Productlane-Webhooks/1.0"
    assert got.headers["Productlane-Event"] == "thread.status_changed"
    assert got.headers["Productlane-Event-Id"] == event["id"]
    assert got.headers["Productlane-Delivery-Id"].startswith("wdl_")
    assert got.headers["Productlane-Webhook-Id"].startswith("wbk_")
    timestamp = int(got.headers["Productlane-Signature"].split(",")[0].removeprefix("t="))
    assert verify_signature(got.body, got.headers["Productlane-Signature"], [secret], now=timestamp) is None


def test_non_2xx_is_retried_on_the_compressed_schedule_with_the_same_event(
    fake: FakeProductlane, listener: Listener
) -> None:
    listener.answers = [500, 404]
    fake.add_webhook(listener.url)
    thread = fake.seed_thread({"text": "<p>x</p>", "contact_email": "jane@customer.example"})
    fake.update_thread(thread["id"], title="New title")
    assert fake.webhooks.wait_idle()
    assert len(listener.received) == 3
    assert len({r.body for r in listener.received}) == 1
    assert len({r.headers["Productlane-Event-Id"] for r in listener.received}) == 1
    assert len({r.headers["Productlane-Delivery-Id"] for r in listener.received}) == 3
    attempts = fake.webhooks.attempts
    assert [a.status for a in attempts] == [500, 404, 200]
    assert attempts[1].time - attempts[0].time >= 60 * 0.0005  # 1 min, compressed
    assert attempts[2].time - attempts[1].time >= 300 * 0.0005  # 5 min, compressed


def test_after_the_last_retry_the_delivery_is_dead(listener: Listener) -> None:
    with FakeProductlane(webhook_time_scale=0.000001) as fake:
        listener.answers = [503] * 10
        fake.add_webhook(listener.url)
        event = fake.emit("issue.completed", {"id": "is_1"})
        assert fake.webhooks.wait_idle()
        assert fake.webhooks.dead == [(fake.webhooks.attempts[0].webhook_id, event["id"])]
        assert len(listener.received) == 7


def test_no_answer_at_all_is_retried_too(fake: FakeProductlane) -> None:
    fake.add_webhook("http://127.0.0.1:9/nothing-listens-here")
    fake.emit("thread.updated", {"id": "th_1"})
    assert fake.webhooks.wait_for(lambda s: len(s.attempts) >= 2)
    assert fake.webhooks.attempts[0].status is None


def test_a_webhook_gets_only_the_events_it_ticked(fake: FakeProductlane, listener: Listener) -> None:
    fake.add_webhook(listener.url, events=["thread.*"])
    fake.emit("issue.completed", {"id": "is_1"})
    fake.emit("thread.deleted", {"id": "th_1"})
    assert fake.webhooks.wait_idle()
    assert [json.loads(r.body)["type"] for r in listener.received] == ["thread.deleted"]


def test_links_and_completions_as_events(fake: FakeProductlane, listener: Listener) -> None:
    fake.add_webhook(listener.url)
    thread = fake.seed_thread({"text": "<p>x</p>", "contact_email": "jane@customer.example"})
    issue = fake.seed_issue("CSV export v2")
    need = fake.link_thread(thread["id"], issue_id=issue["id"])
    fake.complete_issue(issue["id"])
    fake.unlink(need["id"])
    assert fake.webhooks.wait_idle()
    events = [json.loads(r.body) for r in listener.received]
    assert [e["type"] for e in events] == [
        "customer_need.created",
        "issue.completed",
        "customer_need.deleted",
    ]
    assert events[0]["data"]["thread_id"] == thread["id"]
    assert events[1]["data"]["name"] == "CSV export v2"
    assert fake.threads[0]["customer_needs"] == []


def test_issues_and_projects_are_served_with_their_scopes(fake: FakeProductlane) -> None:
    issue = fake.seed_issue("CSV export v2")
    project = fake.seed_project("Reporting revamp")
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    # As the bot's client does: plain http loads no CA bundle (~25 ms of CPU a client).
    with httpx.Client(base_url=fake.url, headers=headers, verify=fake.url.startswith("https://")) as http:
        assert http.get(f"/issues/{issue['id']}").status_code == 403
        fake.set_scopes(["issues:read", "projects:read"])
        assert http.get(f"/issues/{issue['id']}").json()["name"] == "CSV export v2"
        assert http.get(f"/projects/{project['id']}").json()["name"] == "Reporting revamp"
        assert http.get("/projects/pr_missing").status_code == 404


def test_updated_at_moves_forward_on_every_change(fake: FakeProductlane) -> None:
    thread = fake.seed_thread({"text": "<p>x</p>", "contact_email": "jane@customer.example"})
    stamps = [
        fake.set_thread_status(thread["id"], s, emit=False)["updated_at"] for s in ("done", "open", "done")
    ]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 3

"""receive_webhook: what Productlane's requests get back, and what is kept of them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.delivery.outbox import Outbox
from bot.updates.receiver import WebhookReceiver
from bot.updates.signature import MAX_BODY_BYTES, signature_header
from bot.updates.store import UpdatesStore
from tests.databases import outbox_at
from tests.updates.conftest import Clock

FIXTURE = json.loads(
    (
        Path(__file__).parent.parent / "fixtures" / "productlane" / "webhook_thread_status_changed.json"
    ).read_text()
)
SECRET = FIXTURE["secret"]
BODY: bytes = FIXTURE["raw_body"].encode()
HEADERS: dict[str, str] = FIXTURE["headers"]
SIGNED_AT = 1795861425


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield box
    box.close()


@pytest.fixture
def store(outbox: Outbox, clock: Clock) -> UpdatesStore:
    return UpdatesStore(outbox.database, clock=clock)


@pytest.fixture
def woken() -> list[int]:
    return []


@pytest.fixture
def receive(store: UpdatesStore, woken: list[int]) -> WebhookReceiver:
    return WebhookReceiver(store, [SECRET], on_event=lambda: woken.append(1), clock=lambda: SIGNED_AT + 10)


def signed(body: bytes, event_type: str = "thread.updated", event_id: str = "evt_x") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Productlane-Event": event_type,
        "Productlane-Event-Id": event_id,
        "Productlane-Signature": signature_header([SECRET], SIGNED_AT, body),
    }


def test_the_documented_delivery_is_stored_and_answered_200(
    receive: WebhookReceiver, store: UpdatesStore, woken: list[int]
) -> None:
    assert receive(BODY, HEADERS) == (
        200,
        {"ok": True, "event_id": "evt_3727ca7b4f0fff3c", "duplicate": False},
    )
    assert store.counts() == {"events.pending": 1}
    [event] = store.claim_events("t", 1, 30)
    assert event.event_type == "thread.status_changed"
    assert event.payload["data"]["status"] == "done"
    assert woken == [1]


def test_a_redelivery_is_answered_200_and_changes_nothing(
    receive: WebhookReceiver, store: UpdatesStore, woken: list[int]
) -> None:
    receive(BODY, HEADERS)
    retry = {**HEADERS, "Productlane-Delivery-Id": "wdl_second_attempt"}
    assert receive(BODY, retry) == (200, {"ok": True, "event_id": "evt_3727ca7b4f0fff3c", "duplicate": True})
    assert store.counts() == {"events.pending": 1}
    assert woken == [1]


def test_an_event_without_a_body_id_is_kept_by_its_signed_bytes_not_the_header_id(
    receive: WebhookReceiver, store: UpdatesStore
) -> None:
    first = json.dumps({"type": "thread.updated", "data": {"id": "th_1", "status": "done"}}).encode()
    second = json.dumps({"type": "thread.updated", "data": {"id": "th_2", "status": "done"}}).encode()
    # The same unsigned header id on two different signed bodies: two events.
    one = receive(first, signed(first, event_id="evt_reused"))
    two = receive(second, signed(second, event_id="evt_reused"))
    assert one[1]["duplicate"] is False
    assert two[1]["duplicate"] is False
    assert one[1]["event_id"] != two[1]["event_id"] != "evt_reused"
    # The same body under a new header id: the same event, received again.
    again = receive(first, signed(first, event_id="evt_fresh"))
    assert again == (200, {"ok": True, "event_id": one[1]["event_id"], "duplicate": True})
    assert store.counts() == {"events.pending": 2}


def test_header_names_are_matched_whatever_their_case(receive: WebhookReceiver) -> None:
    lower = {name.lower(): value for name, value in HEADERS.items()}
    assert receive(BODY, lower)[0] == 200


@pytest.mark.parametrize(
    ("name", "headers", "body"),
    [
        ("unsigned", {k: v for k, v in HEADERS.items() if k != "Productlane-Signature"}, BODY),
        (
            "forged",
            {**HEADERS, "Productlane-Signature": signature_header(["whsec_guess"], SIGNED_AT, BODY)},
            BODY,
        ),
        ("tampered", HEADERS, BODY.replace(b'"done"', b'"open"')),
        (
            "stale",
            {**HEADERS, "Productlane-Signature": signature_header([SECRET], SIGNED_AT - 400, BODY)},
            BODY,
        ),
        ("malformed", {**HEADERS, "Productlane-Signature": "sha256=abc"}, BODY),
    ],
)
def test_unsigned_forged_and_stale_requests_get_401_and_leave_nothing(
    receive: WebhookReceiver,
    store: UpdatesStore,
    woken: list[int],
    caplog: pytest.LogCaptureFixture,
    name: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert receive(body, headers) == (401, {"ok": False, "error": "invalid_signature"})
    assert store.counts() == {}
    assert woken == []
    assert len([r for r in caplog.records if r.name == "bot.updates.receiver"]) == 1
    for secret_or_body in ("Jane", "jane@customer.example", "Export to CSV", SECRET, "th_0123456789abcdef"):
        assert secret_or_body not in caplog.text, name


def test_a_body_over_one_mebibyte_gets_413_before_anything_else(
    receive: WebhookReceiver, store: UpdatesStore
) -> None:
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert receive(big, signed(big))[0] == 413
    assert receive(big, {})[0] == 413  # even unsigned: the size is checked first
    assert store.counts() == {}


def test_one_mebibyte_exactly_is_accepted(receive: WebhookReceiver) -> None:
    event = b'{"id":"evt_big","type":"thread.updated","data":{"id":"th_1"},"pad":"'
    big = event + b"x" * (MAX_BODY_BYTES - len(event) - 2) + b'"}'
    assert len(big) == MAX_BODY_BYTES
    assert receive(big, signed(big))[0] == 200


DEEP_DATA = b'{"id": "evt_9", "type": "thread.updated", "data": ' + b'{"a":' * 500 + b"1" + b"}" * 501


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id": "evt_1", "data": {}}',
        b"[" * 100_000 + b"]" * 100_000,
        DEEP_DATA,
        b"\xff\xfe{",
    ],
)
def test_a_signed_body_that_is_not_an_event_gets_400(
    receive: WebhookReceiver, store: UpdatesStore, body: bytes
) -> None:
    headers = signed(body)
    del headers["Productlane-Event-Id"]
    assert receive(body, headers) == (400, {"ok": False, "error": "invalid_event"})
    assert store.counts() == {}


def test_events_the_bot_does_not_use_get_200_and_are_not_stored(
    receive: WebhookReceiver, store: UpdatesStore
) -> None:
    body = json.dumps({"id": "evt_c", "type": "comment.created", "data": {"id": "cm_1"}}).encode()
    assert receive(body, signed(body, "comment.created")) == (
        200,
        {"ok": True, "event_id": "evt_c", "ignored": True},
    )
    assert store.counts() == {}


def test_without_a_secret_every_request_is_refused(store: UpdatesStore) -> None:
    receive = WebhookReceiver(store, [], clock=lambda: SIGNED_AT)
    assert receive(BODY, HEADERS)[0] == 401


def test_a_database_failure_answers_503_so_productlane_delivers_again(
    receive: WebhookReceiver, outbox: Outbox
) -> None:
    with outbox.database.writing() as conn:
        conn.execute(sa.text("DROP TABLE updates_events"))
    assert receive(BODY, HEADERS) == (503, {"ok": False, "error": "unavailable"})

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from bot.productlane import (
    AuthenticationError,
    ConflictError,
    CreateThread,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ReadRetries,
    ScopeError,
    ServerError,
    UnexpectedResponseError,
    UnsupportedKeyVersionError,
    ValidationError,
    WriteLimiter,
    error_from_response,
    is_retryable,
)
from bot.productlane.errors import parse_retry_after

ERRORS = json.loads((Path(__file__).parent.parent / "fixtures" / "productlane" / "errors.json").read_text())
BASE = "https://productlane.test/api/v2"
KEY = "pl_v2_secret_key_do_not_log_1234"


def answer(
    status: int,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    text: str | None = None,
) -> httpx.Response:
    request = httpx.Request("POST", BASE + "/threads")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        ("400", ValidationError, "validation_failed"),
        ("401", AuthenticationError, "unauthenticated"),
        ("403", ScopeError, "scope_required"),
        ("410", UnsupportedKeyVersionError, "unsupported_key_version"),
        ("429", RateLimitedError, "rate_limited"),
        ("500", ServerError, "internal_error"),
    ],
)
def test_each_documented_envelope_maps_to_its_class(status, cls, code):
    envelope = ERRORS[status]
    exc = error_from_response(answer(int(status), envelope, {"X-Request-Id": "req_header"}))
    assert type(exc) is cls
    assert exc.status == int(status)
    assert exc.code == code
    assert exc.message == envelope["error"]["message"]
    assert exc.request_id == envelope["error"]["request_id"]  # body wins over header
    assert exc.details == envelope["error"].get("details")
    assert exc.method == "POST"
    assert exc.path == "/api/v2/threads"
    assert exc.user_message
    assert envelope["error"]["request_id"] in str(exc)


def test_validation_error_lists_field_errors():
    exc = error_from_response(answer(400, ERRORS["400"]))
    assert isinstance(exc, ValidationError)
    assert exc.field_errors == [("contact_email", "Invalid email")]
    assert "contact_email: Invalid email" in exc.user_message
    assert not is_retryable(exc)


def test_validation_error_paths_as_lists_are_joined():
    body = {
        "error": {
            "code": "validation_failed",
            "message": "Validation failed.",
            "details": [{"path": ["notify", "slack"], "message": "Expected boolean"}, "junk"],
        }
    }
    exc = error_from_response(answer(400, body))
    assert isinstance(exc, ValidationError)
    assert exc.field_errors == [("notify.slack", "Expected boolean")]


def test_422_is_a_validation_error():
    body = {"error": {"code": "unprocessable", "message": "Nope.", "request_id": "r"}}
    exc = error_from_response(answer(422, body))
    assert type(exc) is ValidationError
    assert exc.field_errors == []
    assert "Nope." in exc.user_message


def test_scope_error_carries_required_and_granted():
    exc = error_from_response(answer(403, ERRORS["403"]))
    assert isinstance(exc, ScopeError)
    assert exc.required == ["threads:write"]
    assert exc.granted == ["threads:read"]
    assert "threads:write" in exc.user_message
    assert "threads:read" in exc.user_message


def test_forbidden_is_a_scope_error_without_lists():
    body = {"error": {"code": "forbidden", "message": "Forbidden.", "request_id": "r"}}
    exc = error_from_response(answer(403, body))
    assert type(exc) is ScopeError
    assert exc.required == []
    assert "permissions" in exc.user_message


def test_v1_key_message_says_create_a_v2_key():
    exc = error_from_response(answer(410, ERRORS["410"]))
    assert isinstance(exc, UnsupportedKeyVersionError)
    assert isinstance(exc, AuthenticationError)
    assert "v1" in exc.user_message
    assert "v2 key" in exc.user_message


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [(404, "not_found", NotFoundError), (409, "conflict", ConflictError)],
)
def test_not_found_and_conflict(status, code, cls):
    body = {"error": {"code": code, "message": "m", "request_id": "r"}}
    exc = error_from_response(answer(status, body))
    assert type(exc) is cls
    assert not is_retryable(exc)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_5xx_envelopes_are_server_errors(status):
    body = {"error": {"code": "bad_gateway", "message": "m", "request_id": "r"}}
    exc = error_from_response(answer(status, body))
    assert type(exc) is ServerError
    assert is_retryable(exc)


def test_unknown_4xx_is_the_base_class():
    body = {"error": {"code": "payload_too_large", "message": "Too big.", "request_id": "r"}}
    exc = error_from_response(answer(413, body))
    assert type(exc) is ProductlaneError
    assert not is_retryable(exc)


def test_request_id_falls_back_to_header():
    body = {"error": {"code": "internal_error", "message": "m"}}
    exc = error_from_response(answer(500, body, {"X-Request-Id": "req_from_header"}))
    assert exc.request_id == "req_from_header"
    assert "req_from_header" in exc.user_message


@pytest.mark.parametrize(("status", "retryable"), [(502, True), (503, True), (403, False), (404, False)])
def test_html_from_a_proxy_is_unexpected(status, retryable):
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    exc = error_from_response(
        answer(status, text=html, headers={"Content-Type": "text/html", "X-Request-Id": "r1"})
    )
    assert type(exc) is UnexpectedResponseError
    assert exc.status == status
    assert exc.request_id == "r1"
    assert "502 Bad Gateway" in exc.body_excerpt
    assert is_retryable(exc) is retryable


def test_json_that_is_not_the_envelope_is_unexpected():
    exc = error_from_response(answer(500, {"message": "oops"}))
    assert type(exc) is UnexpectedResponseError


def test_429_without_envelope_is_still_rate_limited():
    exc = error_from_response(answer(429, text="slow down", headers={"Retry-After": "12"}))
    assert type(exc) is RateLimitedError
    assert exc.retry_after == 12.0
    assert "12 seconds" in exc.user_message


def test_rate_limited_reads_retry_after():
    exc = error_from_response(answer(429, ERRORS["429"], {"Retry-After": "30"}))
    assert isinstance(exc, RateLimitedError)
    assert exc.retry_after == 30.0
    assert is_retryable(exc)


def test_rate_limited_without_retry_after():
    exc = error_from_response(answer(429, ERRORS["429"]))
    assert isinstance(exc, RateLimitedError)
    assert exc.retry_after is None
    assert "in a minute" in exc.user_message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        ("1.5", 1.5),
        (" 0 ", 0.0),
        ("-5", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(90.0)


def test_is_retryable_table():
    assert is_retryable(NetworkError("x"))
    assert is_retryable(RateLimitedError("x", retry_after=1))
    assert is_retryable(ServerError("x", status=500))
    assert not is_retryable(OutcomeUnknownError("x", reason="timeout"))
    assert not is_retryable(AuthenticationError("x", status=401))
    assert not is_retryable(UnexpectedResponseError("x", status=200))
    assert not is_retryable(ValueError("x"))


def test_messages_never_contain_the_key():
    body = {
        "error": {
            "code": "unauthenticated",
            "message": f"Key {KEY} was revoked (Bearer {KEY}).",
            "request_id": "r",
        }
    }
    exc = error_from_response(answer(401, body))
    for text in (str(exc), repr(exc), exc.user_message, exc.message):
        assert KEY not in text
    assert "[redacted]" in exc.message


def test_every_user_message_says_what_to_do_and_not_the_key():
    errors = [
        ProductlaneError("m", status=418),
        AuthenticationError("m"),
        UnsupportedKeyVersionError("m"),
        ScopeError("m", details={"required": ["threads:write"], "granted": []}),
        ValidationError("m"),
        NotFoundError("m"),
        ConflictError("m"),
        RateLimitedError("m", retry_after=2.4),
        ServerError("m", status=500),
        NetworkError("m"),
        OutcomeUnknownError("m", reason="timeout"),
        UnexpectedResponseError("m", status=502),
    ]
    for exc in errors:
        text = exc.user_message
        assert text.endswith(".")
        assert any(word in text for word in ("Try", "Ask", "Check", "Create", "Correct"))
        assert not re.search(r"pl_v2_\w", text)


# --------------------------------------------------------------------------- via the client


@respx.mock
def test_client_maps_respx_envelopes_and_accepts_200_for_create():
    thread = json.loads(
        (Path(__file__).parent.parent / "fixtures" / "productlane" / "thread_created.json").read_text()
    )
    route = respx.post(BASE + "/threads").mock(
        side_effect=[
            httpx.Response(400, json=ERRORS["400"]),
            httpx.Response(200, json=thread),
        ]
    )
    request = CreateThread(text="t", contact_email="jane@customer.example")
    with ProductlaneClient(KEY, BASE, write_limiter=WriteLimiter(burst=10)) as client:
        with pytest.raises(ValidationError) as info:
            client.create_thread(request)
        assert info.value.field_errors == [("contact_email", "Invalid email")]
        assert client.create_thread(request).id == thread["id"]
    assert route.call_count == 2
    sent = route.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["User-Agent"].startswith("productlane-slack/")
    assert json.loads(sent.content) == request.to_json()


@respx.mock
def test_client_2xx_body_that_does_not_parse():
    respx.get(BASE + "/me").mock(return_value=httpx.Response(200, json={"workspace": 1}))
    respx.post(BASE + "/threads").mock(
        return_value=httpx.Response(201, text="<html>ok</html>", headers={"X-Request-Id": "r9"})
    )
    with ProductlaneClient(KEY, BASE, retries=ReadRetries(sleep=lambda _: None)) as client:
        with pytest.raises(UnexpectedResponseError) as info:
            client.me()
        assert info.value.status == 200
        assert not is_retryable(info.value)
        # for a write, an unreadable success means "created, probably": the outcome is unknown
        with pytest.raises(OutcomeUnknownError) as unknown:
            client.create_thread(CreateThread(text="t", contact_email="a@b.co"))
        assert unknown.value.reason == "unreadable_response"
        assert unknown.value.request_id == "r9"
        assert isinstance(unknown.value.__cause__, UnexpectedResponseError)


@respx.mock
def test_client_post_with_html_4xx_is_not_an_unknown_outcome():
    respx.post(BASE + "/threads").mock(return_value=httpx.Response(403, text="<html>Blocked by WAF</html>"))
    with (
        ProductlaneClient(KEY, BASE) as client,
        pytest.raises(UnexpectedResponseError) as info,
    ):
        client.create_thread(CreateThread(text="t", contact_email="a@b.co"))
    assert info.value.status == 403

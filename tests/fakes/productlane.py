"""A fake Productlane API v2: a real HTTP server on 127.0.0.1 (random port) for tests.

It implements what the bot uses — ``GET /me``, ``POST /threads``, ``GET /threads``,
``GET /threads/{id}``, ``GET /contacts/by-email``, ``GET /issues/{id}``, ``GET /projects/{id}`` —
under ``/api/v2``, following Productlane's
API reference (the POST /v2/threads page and the error/rate-limit notes), not our pydantic models:
the request contract is re-implemented here by hand in :func:`validate_create_thread`, so the two
can disagree and a test will notice. ``GET /threads`` also takes ``contact_email``, a convenience
that is not a documented filter.

Usage::

    with FakeProductlane(scopes=["threads:read"]) as fake:
        client = ProductlaneClient(fake.api_key, fake.url)
        fake.fail_next(500, n=2)
        ...
        assert fake.post_count == 1

Or as a pytest fixture in a test module::

    @pytest.fixture
    def fake():
        with FakeProductlane() as server:
            yield server

Fault controls (all thread-safe; each takes optional ``path=`` (e.g. ``"/threads"``, relative to
``/api/v2``) and ``method=`` filters, matching every request when omitted):

* :meth:`~FakeProductlane.delay` — answer slowly.
* :meth:`~FakeProductlane.hold` — leave requests unanswered until :meth:`~FakeProductlane.release`.
* :meth:`~FakeProductlane.fail_next` — answer with the documented error envelope for a status.
* :meth:`~FakeProductlane.answer_html_next` — answer with a proxy's HTML page.
* :meth:`~FakeProductlane.drop_next` — close the connection without answering.
* ``after_create=True`` on the three above (POST /threads only): store the thread first, then fail,
  i.e. "created, but the answer was lost / was an error".
* :meth:`~FakeProductlane.timeout_after_create` — store the thread, then wait before answering.
* ``enforce_rate_limit=True`` — Productlane's write limit (60/min, ≤ 20 in any 10 s) and read
  limit (1000/min), answering 429 + ``Retry-After``; ``rate_limited_count`` counts every 429 sent.

Every answer carries ``X-Request-Id`` and ``X-RateLimit-Limit/Remaining/Reset``.

Webhooks (close the loop): :meth:`~FakeProductlane.add_webhook` subscribes a URL; then what
happens in the fake workspace — :meth:`~FakeProductlane.set_thread_status`,
:meth:`~FakeProductlane.update_thread`, :meth:`~FakeProductlane.delete_thread`,
:meth:`~FakeProductlane.link_thread`, :meth:`~FakeProductlane.unlink`,
:meth:`~FakeProductlane.complete_issue`, :meth:`~FakeProductlane.complete_project` — is sent
there as real signed requests (see ``tests/fakes/productlane_webhooks.py``), retried on non-2xx on
a compressed schedule. ``emit=False`` makes the change silently and returns the snapshot, so a
test can :meth:`~FakeProductlane.emit` events in any order it likes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.fakes import multipart
from tests.fakes.productlane_catalog import FakeCatalog
from tests.fakes.productlane_conversation import ConversationFake
from tests.fakes.productlane_webhooks import DEFAULT_PATTERNS, WebhookSender
from tests.fakes.serving import stop_serving
from tests.pace import PATIENCE

__all__ = [
    "DEFAULT_API_KEY",
    "FakeClock",
    "FakeProductlane",
    "RecordedRequest",
    "validate_create_thread",
]

DEFAULT_API_KEY = "pl_v2_test_0123456789abcdef"
BASE_PATH = "/api/v2"

PAIN_LEVELS = ("UNKNOWN", "LOW", "MEDIUM", "HIGH")
STATUSES = ("open", "snoozed", "done")
ORIGINS = (
    "in_app",
    "portal",
    "support_portal",
    "email",
    "slack",
    "slack_connect",
    "intercom",
    "intercom_attachment",
    "zendesk",
    "zendesk_attachment",
    "front_attachment",
    "zapier",
    "hubspot",
    "plain",
    "productboard",
    "api",
    "live_chat",
)
TITLE_MAX = 512
OPTIONAL_STRINGS = ("contact_name", "assignee_id", "company_id", "project_id", "issue_id")
DATETIME_FIELDS = ("created_at", "updated_at")
KNOWN_FIELDS = frozenset(
    {"text", "pain_level", "contact_email", "title", "status", "origin", "notify"}
    | set(OPTIONAL_STRINGS)
    | set(DATETIME_FIELDS)
)
EXTERNAL_ID_KEYS = ("intercom", "front", "zendesk", "hubspot", "plain", "productboard")

# The email check zod (whose messages the documented envelope mirrors) applies.
_EMAIL = re.compile(
    r"^(?!\.)(?!.*\.\.)([A-Z0-9_'+\-.]*)[A-Z0-9_+-]@([A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}$",
    re.IGNORECASE,
)
# RFC 3339 date-time (string<date-time>): a time zone is mandatory.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)

DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("validation_failed", "Validation failed."),
    401: ("unauthenticated", "Missing or invalid API key."),
    403: ("scope_required", "This endpoint requires the `threads:write` scope."),
    404: ("not_found", "Not found."),
    409: ("conflict", "The request conflicts with the current state."),
    410: ("unsupported_key_version", "This key is for API v1."),
    422: ("unprocessable", "The request could not be processed."),
    429: ("rate_limited", "Rate limit exceeded."),
    500: ("internal_error", "Something went wrong."),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "Service unavailable."),
}

PROXY_HTML = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- the contract


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _enum_message(options: Iterable[str], value: Any) -> str:
    listed = " | ".join(f"'{option}'" for option in options)
    return f"Invalid enum value. Expected {listed}, received '{value}'"


def validate_create_thread(body: Any) -> list[dict[str, str]]:
    """Check a ``POST /threads`` body against the documented contract.

    Returns the ``details`` of a 400 ``validation_failed`` answer (``[{path, message}]``), empty
    when the body is valid. Written from the reference page, independently of ``bot`` models.
    """
    if not isinstance(body, dict):
        return [{"path": "", "message": f"Expected object, received {_type_name(body)}"}]
    errors: list[dict[str, str]] = []

    def error(path: str, message: str) -> None:
        errors.append({"path": path, "message": message})

    def expect_string(name: str, required: bool) -> str | None:
        if name not in body:
            if required:
                error(name, "Required")
            return None
        value = body[name]
        if not isinstance(value, str):
            error(name, f"Expected string, received {_type_name(value)}")
            return None
        return value

    text = expect_string("text", required=True)
    if text is not None and len(text) < 1:
        error("text", "String must contain at least 1 character(s)")

    pain_level = expect_string("pain_level", required=True)
    if pain_level is not None and pain_level not in PAIN_LEVELS:
        error("pain_level", _enum_message(PAIN_LEVELS, pain_level))

    email = expect_string("contact_email", required=True)
    if email is not None and not _EMAIL.match(email):
        error("contact_email", "Invalid email")

    title = expect_string("title", required=False)
    if title is not None and len(title) > TITLE_MAX:
        error("title", f"String must contain at most {TITLE_MAX} character(s)")

    status = expect_string("status", required=False)
    if status is not None and status not in STATUSES:
        error("status", _enum_message(STATUSES, status))

    origin = expect_string("origin", required=False)
    if origin is not None and origin not in ORIGINS:
        error("origin", _enum_message(ORIGINS, origin))

    for name in OPTIONAL_STRINGS:
        expect_string(name, required=False)

    for name in DATETIME_FIELDS:
        value = expect_string(name, required=False)
        if value is None:
            continue
        valid = bool(_DATETIME.match(value))
        if valid:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                valid = False
        if not valid:
            error(name, "Invalid datetime")

    if "notify" in body:
        notify = body["notify"]
        if not isinstance(notify, dict):
            error("notify", f"Expected object, received {_type_name(notify)}")
        else:
            for key, value in notify.items():
                if key not in ("slack", "email"):
                    error("notify", f"Unrecognized key(s) in object: '{key}'")
                elif not isinstance(value, bool):
                    error(f"notify.{key}", f"Expected boolean, received {_type_name(value)}")

    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        listed = ", ".join(f"'{name}'" for name in unknown)
        error("", f"Unrecognized key(s) in object: {listed}")
    return errors


# ------------------------------------------------------------- capture: files and thread edits

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOADS_PER_MINUTE = 30
UPLOADS_PER_DAY = 500
# The documented upload types (svg, html and octet-stream are refused), written out here by hand.
UPLOAD_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "text/csv",
        "text/plain",
    }
)
UPDATABLE_FIELDS = frozenset(
    {
        "text",
        "title",
        "pain_level",
        "assignee_id",
        "contact_id",
        "company_id",
        "tag_ids",
        "project_id",
        "status",
        "snoozed_until",
        "closed_loop",
        "notify",
    }
)


def _multipart_file(body: bytes, content_type: str, field_name: str) -> tuple[str, str, bytes] | None:
    """(filename, content type, bytes) of the multipart part named ``field_name``."""
    for part in multipart.parts(body, content_type):
        if part.name == field_name:
            return part.filename or "file", part.content_type, part.data
    return None


def validate_update_thread(body: dict[str, Any]) -> list[dict[str, str]]:
    """The ``details`` of a 400 for a ``PATCH /threads/{id}`` body (empty when valid)."""
    errors: list[dict[str, str]] = []
    unknown = sorted(set(body) - UPDATABLE_FIELDS)
    if unknown:
        listed = ", ".join(f"'{name}'" for name in unknown)
        errors.append({"path": "", "message": f"Unrecognized key(s) in object: {listed}"})
    title = body.get("title")
    if "title" in body and not isinstance(title, str):
        errors.append({"path": "title", "message": f"Expected string, received {_type_name(title)}"})
    elif isinstance(title, str) and len(title) > TITLE_MAX:
        errors.append({"path": "title", "message": f"String must contain at most {TITLE_MAX} character(s)"})
    if "pain_level" in body and body["pain_level"] not in PAIN_LEVELS:
        errors.append({"path": "pain_level", "message": _enum_message(PAIN_LEVELS, body["pain_level"])})
    if "status" in body and body["status"] not in STATUSES:
        errors.append({"path": "status", "message": _enum_message(STATUSES, body["status"])})
    return errors


# --------------------------------------------------------------------------- a clock for tests


class FakeClock:
    """A monotonic clock that moves only when told: pass ``clock`` as the ``clock=`` of a
    :class:`~bot.productlane.WriteLimiter` / :class:`FakeProductlane` and ``clock.sleep`` as
    ``sleep=``; sleeping advances the time at once and is recorded in ``sleeps``."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)


# --------------------------------------------------------------------------- records & faults


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str  # relative to /api/v2, e.g. "/threads"
    full_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # parsed body, None when absent or not JSON
    time: float  # wall clock (time.time()) when it arrived
    status: int | None = None  # status answered; None if dropped / not answered


@dataclass
class _Fault:
    kind: str  # "fail" | "html" | "drop" | "slow"
    remaining: int
    method: str | None = None
    path: str | None = None
    after_create: bool = False
    status: int = 500
    retry_after: float | None = None
    code: str | None = None
    message: str | None = None
    details: Any = None
    seconds: float = 0.0

    def matches(self, method: str, path: str, after_create: bool) -> bool:
        return (
            self.remaining > 0
            and self.after_create == after_create
            and (self.method is None or self.method == method)
            and (self.path is None or self.path == path)
        )


@dataclass
class _Delay:
    seconds: float
    method: str | None
    path: str | None
    remaining: int | None  # None = until cleared

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and (self.method is None or self.method == method)
            and (self.path is None or self.path == path)
        )


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    envelope: bool = False  # an error envelope: gets the request id in its body too


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(26))


def _parse_when(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    wbufsize = 1 << 16  # one write per answer (headers + body): no Nagle / delayed-ACK stalls
    fake: FakeProductlane  # set on the per-server subclass

    def do_GET(self) -> None:
        self.fake._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --------------------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Writes come in bursts (the worker's sender threads, a test's own threads): beyond socketserver's
    # backlog of 5 the kernel drops a connection, and the client sends it again a second later.
    request_queue_size = 128


class FakeProductlane:
    """A Productlane API v2 on 127.0.0.1. See the module docstring for the controls."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        v1_keys: Iterable[str] = (),
        scopes: Iterable[str] = ("threads:read", "threads:write", "contacts:read"),
        workspace_id: str = "ws_01HZX0000000000000000001",
        api_key_id: str = "key_01HZX0000000000000000001",
        enforce_rate_limit: bool = False,
        write_limit: int = 60,
        write_burst: int = 20,
        write_burst_window: float = 10.0,
        read_limit: int = 1000,
        create_status: int = 201,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        port: int = 0,
        webhook_time_scale: float = 0.001,
        webhook_senders: int = 1,
    ) -> None:
        self.api_key = api_key
        self.v1_keys = set(v1_keys)
        self.scopes = list(scopes)
        self.workspace_id = workspace_id
        self.api_key_id = api_key_id
        self.enforce_rate_limit = enforce_rate_limit
        self.write_limit = write_limit
        self.write_burst = write_burst
        self.write_burst_window = write_burst_window
        self.read_limit = read_limit
        self.create_status = create_status
        self._clock = clock
        self._wall = wall_clock

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._threads: list[dict[str, Any]] = []  # in creation order
        self._contacts: dict[str, dict[str, Any]] = {}  # by lower-cased email
        self._issues: dict[str, dict[str, Any]] = {}
        self._projects: dict[str, dict[str, Any]] = {}
        self._needs: dict[str, dict[str, Any]] = {}  # customer needs by id
        self.webhooks = WebhookSender(
            time_scale=webhook_time_scale, senders=webhook_senders, wall_clock=wall_clock
        )
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._holds: list[tuple[str | None, str | None]] = []
        self._drop_generation = 0  # release(drop=True) moves it on: what was held then is dropped
        self._released = threading.Condition(self._lock)
        self._write_log: deque[float] = deque()
        self._read_log: deque[float] = deque()
        self.post_count = 0  # POST /threads requests received (whatever the outcome)
        self.created_count = 0  # threads created through POST /threads
        self.rate_limited_count = 0  # 429 answers sent (enforced or injected)

        handler = type("FakeProductlaneHandler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None
        self._init_capture()
        # Triage: companies, tags, members, the lists, and the ids writes name.
        self.catalog = FakeCatalog(self)
        # Comments and the team's replies: tests/fakes/productlane_conversation.py.
        self.conversation = ConversationFake(self)

    # -- lifecycle

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL to give the client, e.g. ``http://127.0.0.1:PORT/api/v2``."""
        return self.origin + BASE_PATH

    def start(self) -> FakeProductlane:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-productlane:{self.port}",
                daemon=True,
            )
            self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.webhooks.stop()
        if self._thread is not None:
            stop_serving(self._server)
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeProductlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """The recorded requests with this method and path (relative to ``/api/v2``)."""
        return [r for r in self.requests if r.method == method and r.path == path]

    @property
    def threads(self) -> list[dict[str, Any]]:
        """Every stored thread (JSON as answered), oldest first."""
        with self._lock:
            return [json.loads(json.dumps(t)) for t in self._threads]

    @property
    def contacts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._contacts.values()]

    def wait_for(self, predicate: Callable[[FakeProductlane], bool], timeout: float = PATIENCE) -> bool:
        """Wait until ``predicate(self)`` holds (re-checked after every request), or time out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.05))
            return True

    # -- controls

    def set_scopes(self, scopes: Iterable[str]) -> None:
        with self._lock:
            self.scopes = list(scopes)

    def delay(
        self,
        seconds: float,
        *,
        path: str | None = None,
        method: str | None = None,
        times: int | None = None,
    ) -> None:
        """Wait ``seconds`` before handling matching requests (``times`` of them, or until
        :meth:`clear_delays`)."""
        with self._lock:
            self._delays.append(_Delay(seconds, method, path, times))

    def hold(self, *, path: str | None = None, method: str | None = None) -> None:
        """Leave matching requests unanswered (received and counted, not handled) until
        :meth:`release`: a test decides when they go on instead of guessing a delay."""
        with self._lock:
            self._holds.append((method, path))

    def release(self, *, drop: bool = False) -> None:
        """Handle every held request now (their delays, if any, follow) and hold no more. With
        ``drop`` the held requests are not handled at all: their connections close unanswered, as
        if they had never reached Productlane (e.g. their sender was killed)."""
        with self._lock:
            self._holds.clear()
            if drop:
                self._drop_generation += 1
            self._released.notify_all()

    def _wait_while_held(self, method: str, path: str) -> bool:
        """False when the request is to be dropped: released with ``drop``, or the fake stopped."""

        def held() -> bool:
            return any((m is None or m == method) and (p is None or p == path) for m, p in self._holds)

        with self._released:
            generation = self._drop_generation
            while held():
                if self._stopping.is_set():
                    return False
                self._released.wait(0.1)
            return self._drop_generation == generation

    def clear_delays(self) -> None:
        with self._lock:
            self._delays.clear()

    def fail_next(
        self,
        status: int,
        n: int = 1,
        retry_after: float | None = None,
        *,
        code: str | None = None,
        message: str | None = None,
        details: Any = None,
        path: str | None = None,
        method: str | None = None,
        after_create: bool = False,
    ) -> None:
        """Answer the next ``n`` matching requests with the documented error envelope for
        ``status`` (code, message and details default to the documented ones). ``retry_after``
        sets ``Retry-After``. With ``after_create`` the thread is stored first."""
        self._add_fault(
            _Fault(
                "fail",
                n,
                method,
                path,
                after_create,
                status=status,
                retry_after=retry_after,
                code=code,
                message=message,
                details=details,
            )
        )

    def answer_html_next(
        self,
        status: int = 502,
        n: int = 1,
        *,
        path: str | None = None,
        method: str | None = None,
        after_create: bool = False,
    ) -> None:
        """Answer the next ``n`` matching requests with a proxy's HTML page."""
        self._add_fault(_Fault("html", n, method, path, after_create, status=status))

    def drop_next(
        self,
        n: int = 1,
        *,
        path: str | None = None,
        method: str | None = None,
        after_create: bool = False,
    ) -> None:
        """Close the connection of the next ``n`` matching requests without answering. With
        ``after_create`` the thread is stored first ("created, but the answer was lost")."""
        self._add_fault(_Fault("drop", n, method, path, after_create))

    def timeout_after_create(self, seconds: float = 5.0, n: int = 1) -> None:
        """Store the next ``n`` created threads, then wait ``seconds`` before answering (a client
        with a shorter timeout gives up although the thread exists)."""
        self._add_fault(_Fault("slow", n, "POST", "/threads", True, seconds=seconds))

    def reset_faults(self) -> None:
        """Forget every pending fault and delay."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def _add_fault(self, fault: _Fault) -> None:
        if fault.after_create:
            fault.method, fault.path = "POST", "/threads"
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str, after_create: bool) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, after_create):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _take_delay(self, method: str, path: str) -> float:
        with self._lock:
            for delay in self._delays:
                if delay.matches(method, path):
                    if delay.remaining is not None:
                        delay.remaining -= 1
                        if delay.remaining <= 0:
                            self._delays.remove(delay)
                    return delay.seconds
        return 0.0

    # -- webhooks and changes in the workspace

    def add_webhook(
        self, url: str, secret: str | None = None, events: Iterable[str] = DEFAULT_PATTERNS
    ) -> tuple[str, str]:
        """Subscribe ``url`` to ``events`` (patterns such as ``thread.*``); returns the webhook
        id and its signing secret (a new one unless given), as Productlane shows them."""
        secret = secret or "whsec_" + secrets.token_hex(16)
        return self.webhooks.subscribe(url, secret, events), secret

    def emit(self, event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """Send one event (to every webhook that wants it) and return it."""
        event = {
            "id": event_id or "evt_" + secrets.token_hex(8),
            "type": event_type,
            "created_at": _iso(self._wall()),
            "data": json.loads(json.dumps(data)),
        }
        self.webhooks.send(event)
        return event

    def _thread_by_id(self, thread_id: str) -> dict[str, Any]:
        for thread in self._threads:
            if thread["id"] == thread_id:
                return thread
        raise KeyError(f"no thread {thread_id}")

    def _touch(self, thread: dict[str, Any]) -> None:
        """A change: ``updated_at`` moves forward (at least a millisecond, like a real clock)."""
        previous = _parse_when(thread["updated_at"])
        now_ms = math.floor(self._wall() * 1000)
        if previous is not None:
            now_ms = max(now_ms, round(previous.timestamp() * 1000) + 1)
        thread["updated_at"] = _iso(now_ms / 1000)

    def set_thread_status(self, thread_id: str, status: str, *, emit: bool = True) -> dict[str, Any]:
        """Change a thread's status (``open``, ``snoozed``, ``done``); returns the snapshot."""
        with self._lock:
            thread = self._thread_by_id(thread_id)
            thread["status"] = status
            thread["tab"] = "new" if status == "open" else status
            thread["last_state_change_at"] = _iso(self._wall())
            self._touch(thread)
            snapshot = self._public(thread)
        if emit:
            self.emit("thread.status_changed", snapshot)
        return snapshot

    def update_thread(self, thread_id: str, *, emit: bool = True, **fields: Any) -> dict[str, Any]:
        """Change any fields of a thread (e.g. ``title``); sends ``thread.updated``."""
        with self._lock:
            thread = self._thread_by_id(thread_id)
            thread.update(fields)
            self._touch(thread)
            snapshot = self._public(thread)
        if emit:
            self.emit("thread.updated", snapshot)
        return snapshot

    def delete_thread(self, thread_id: str, *, emit: bool = True) -> dict[str, Any]:
        """Delete a thread (``GET /threads/{id}`` answers 404 from now on)."""
        with self._lock:
            thread = self._thread_by_id(thread_id)
            self._threads.remove(thread)
            snapshot = self._public(thread)
        if emit:
            self.emit("thread.deleted", snapshot)
        return snapshot

    def seed_issue(self, name: str, *, issue_id: str | None = None) -> dict[str, Any]:
        """An issue in the workspace (Productlane mirrors Linear's)."""
        now = _iso(self._wall())
        issue: dict[str, Any] = {
            "id": issue_id or _new_id("is_"),
            "name": name,
            "status": "in_progress",
            "project_id": None,
            "completed_at": None,
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            self._issues[issue["id"]] = issue
        return dict(issue)

    def seed_project(self, name: str, *, project_id: str | None = None) -> dict[str, Any]:
        now = _iso(self._wall())
        project: dict[str, Any] = {
            "id": project_id or _new_id("pr_"),
            "name": name,
            "state": "started",
            "completed_at": None,
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            self._projects[project["id"]] = project
        return dict(project)

    def link_thread(
        self,
        thread_id: str,
        *,
        issue_id: str | None = None,
        project_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """Link a thread to an issue or project (a customer need); sends ``customer_need.created``."""
        now = _iso(self._wall())
        need: dict[str, Any] = {
            "id": _new_id("cn_"),
            "thread_id": thread_id,
            "issue_id": issue_id,
            "project_id": project_id,
            "priority": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            self._thread_by_id(thread_id)["customer_needs"].append(dict(need))
            self._needs[need["id"]] = need
        if emit:
            self.emit("customer_need.created", need)
        return dict(need)

    def unlink(self, need_id: str, *, emit: bool = True) -> dict[str, Any]:
        with self._lock:
            need = self._needs.pop(need_id)
            for thread in self._threads:
                thread["customer_needs"] = [n for n in thread["customer_needs"] if n["id"] != need_id]
        if emit:
            self.emit("customer_need.deleted", need)
        return dict(need)

    def complete_issue(self, issue_id: str, *, emit: bool = True) -> dict[str, Any]:
        with self._lock:
            issue = self._issues[issue_id]
            issue["status"] = "completed"
            issue["completed_at"] = issue["updated_at"] = _iso(self._wall())
            snapshot = dict(issue)
        if emit:
            self.emit("issue.completed", snapshot)
        return snapshot

    def complete_project(self, project_id: str, *, emit: bool = True) -> dict[str, Any]:
        with self._lock:
            project = self._projects[project_id]
            project["state"] = "completed"
            project["completed_at"] = project["updated_at"] = _iso(self._wall())
            snapshot = dict(project)
        if emit:
            self.emit("project.completed", snapshot)
        return snapshot

    # -- data

    def seed_thread(self, body: dict[str, Any], *, created_at: float | None = None) -> dict[str, Any]:
        """Store a thread as if created earlier (``created_at`` in unix seconds), bypassing HTTP
        and validation. Returns its JSON."""
        with self._lock:
            return self._create(body, created_at)

    def _upsert_contact(self, email: str, name: str | None, now: str) -> dict[str, Any]:
        key = email.lower()
        contact = self._contacts.get(key)
        if contact is None:  # contact_name applies only to a new contact
            contact = {
                "id": _new_id("ct_"),
                "email": email,
                "name": name,
                "image_url": None,
                "company_id": None,
                "is_subscribed": True,
                "external_ids": dict.fromkeys((*EXTERNAL_ID_KEYS, "slack_channel")),
                "created_at": now,
                "updated_at": now,
            }
            self._contacts[key] = contact
        return contact

    def _create(self, body: dict[str, Any], created_ts: float | None = None) -> dict[str, Any]:
        now = _iso(self._wall() if created_ts is None else created_ts)
        created_at = body.get("created_at") or now
        updated_at = body.get("updated_at") or created_at
        contact = self._upsert_contact(body["contact_email"], body.get("contact_name"), now)
        thread_id = _new_id("th_")
        company_id = body.get("company_id") or contact.get("company_id")
        status = body.get("status", "open")
        needs = []
        if body.get("project_id") or body.get("issue_id"):
            needs.append(
                {
                    "id": _new_id("cn_"),
                    "thread_id": thread_id,
                    "project_id": body.get("project_id"),
                    "issue_id": body.get("issue_id"),
                    "priority": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        thread = {
            "id": thread_id,
            "created_at": created_at,
            "updated_at": updated_at,
            "title": body.get("title"),
            "text": body["text"],
            "pain_level": body.get("pain_level", "UNKNOWN"),
            "origin": body.get("origin", "api"),
            "status": status,
            "tab": "new" if status == "open" else status,
            "snoozed_until": None,
            "last_inbound_message_at": created_at,
            "last_outbound_message_at": None,
            "last_state_change_at": created_at,
            "is_read": False,
            "contact": dict(contact),
            "company": None
            if not company_id
            else {
                "id": company_id,
                "name": (self.catalog.companies.get(company_id) or {}).get("name"),
                "logo_url": None,
                "domains": [],
                "size": None,
                "revenue": None,
                "status_id": None,
                "status_name": None,
                "tier_id": None,
                "tier_name": None,
                "owner": None,
                "external_ids": dict.fromkeys((*EXTERNAL_ID_KEYS, "slack_channel")),
                "created_at": now,
                "updated_at": now,
            },
            "assignee": None
            if not body.get("assignee_id")
            else {"id": body["assignee_id"], "name": None, "email": None, "image_url": None},
            "reporter": {"id": "usr_api", "name": "API", "email": None, "image_url": None},
            "tags": [],
            "customer_needs": needs,
            "external_ids": dict.fromkeys((*EXTERNAL_ID_KEYS, "slack_channel")),
            "ai_draft_html": None,
            "ai_draft_sources": None,
            "ai_draft_generated_at": None,
            "ai_draft_started_at": None,
            "ai_draft_error_at": None,
            "_notify": body.get("notify"),  # stripped from answers; kept for assertions
        }
        self._threads.append(thread)
        return self._public(thread)

    @staticmethod
    def _public(thread: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in thread.items() if not k.startswith("_")}

    # -- request handling

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        method = h.command
        route = (
            split.path[len(BASE_PATH) :] or "/"
            if split.path.startswith(BASE_PATH + "/") or split.path == BASE_PATH
            else split.path
        )
        record = RecordedRequest(
            method=method,
            path=route,
            full_path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=raw,
            json=parsed,
            time=self._wall(),
        )
        with self._changed:
            self._requests.append(record)
            if method == "POST" and route == "/threads":
                self.post_count += 1
            self._changed.notify_all()

        try:
            if not self._wait_while_held(method, route):
                return self._drop(h, record)
            wait = self._take_delay(method, route)
            if wait > 0 and self._stopping.wait(wait):
                return self._drop(h, record)

            fault = self._take_fault(method, route, after_create=False)
            if fault is not None:
                return self._apply_fault(h, record, fault)

            reply = self._route(h, record, split.path)
            if reply is None:  # dropped after create
                return None
            return self._send(h, record, reply)
        finally:
            with self._changed:
                self._changed.notify_all()

    def _route(self, h: _Handler, record: RecordedRequest, full_path: str) -> _Reply | None:
        if not (full_path == BASE_PATH or full_path.startswith(BASE_PATH + "/")):
            return self._error(404, message=f"No route for {full_path}.")
        key = self._bearer(record.headers.get("authorization", ""))
        with self._lock:
            valid_key, v1_keys, scopes = self.api_key, set(self.v1_keys), list(self.scopes)
        if key is not None and key in v1_keys:
            return self._error(410)
        if key is None or not secrets.compare_digest(key.encode(), valid_key.encode()):
            return self._error(401)
        limited = self._rate_check(record.method)
        if limited is not None:
            return limited

        method, path = record.method, record.path
        if method == "GET" and path == "/me":
            return self._json(
                200,
                {
                    "workspace_id": self.workspace_id,
                    "api_key_id": self.api_key_id,
                    "scopes": scopes,
                    "linear_team_ids": [],
                    "default_linear_team_id": None,
                },
            )
        captured = self._route_capture(record, scopes)
        if captured is not None:
            return captured
        listed = self.catalog.route(record, scopes)
        if listed is not None:
            return listed
        talked, answer = self.conversation.route(h, record, scopes)
        if talked:
            return answer
        if path == "/threads" and method == "POST":
            return self._post_thread(h, record, scopes)
        if path == "/threads" and method == "GET":
            return self._scope(scopes, "threads:read") or self._list_threads(record)
        if path.startswith("/threads/") and method == "GET":
            return self._scope(scopes, "threads:read") or self._get_thread(unquote(path.split("/")[2]))
        if path == "/contacts/by-email" and method == "GET":
            return self._scope(scopes, "contacts:read") or self._contact_by_email(record)
        if path.startswith("/issues/") and method == "GET":
            return self._scope(scopes, "issues:read") or self._get_named(self._issues, path, "Issue")
        if path.startswith("/projects/") and method == "GET":
            return self._scope(scopes, "projects:read") or self._get_named(self._projects, path, "Project")
        return self._error(404, message=f"No route for {method} {path}.")

    def _post_thread(self, h: _Handler, record: RecordedRequest, scopes: list[str]) -> _Reply | None:
        denied = self._scope(scopes, "threads:write")
        if denied is not None:
            return denied
        if record.body and record.json is None:
            return self._error(400, details=[{"path": "", "message": "Invalid JSON body"}])
        if "json" not in record.headers.get("content-type", ""):
            return self._error(400, details=[{"path": "", "message": "Expected application/json"}])
        details = validate_create_thread(record.json)
        if details:
            first = details[0]
            where = f"{first['path']}: " if first["path"] else ""
            return self._error(400, message=f"Validation failed: {where}{first['message']}.", details=details)
        unknown = self.catalog.unknown(record.json)
        if unknown:
            return self.catalog.refusal(unknown)
        with self._changed:
            thread = self._create(record.json)
            self.created_count += 1
            self._changed.notify_all()

        fault = self._take_fault("POST", "/threads", after_create=True)
        if fault is not None:
            if fault.kind == "slow":
                if self._stopping.wait(fault.seconds):
                    self._drop(h, record)
                    return None
            else:
                self._apply_fault(h, record, fault)
                return None
        return self._json(self.create_status, thread)

    def _list_threads(self, record: RecordedRequest) -> _Reply:
        query = {k: v[-1] for k, v in record.query.items()}
        problems: list[dict[str, str]] = []
        limit = 50
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                limit = -1
            if not 1 <= limit <= 200:
                problems.append({"path": "limit", "message": "Expected an integer from 1 to 200"})
        bounds: dict[str, datetime] = {}
        for name in ("created_after", "created_before", "updated_after", "updated_before"):
            if name in query:
                when = _parse_when(query[name])
                if when is None:
                    problems.append({"path": name, "message": "Invalid datetime"})
                else:
                    bounds[name] = when
        start = None
        if "cursor" in query:
            match = re.fullmatch(r"cur_(\d+)", query["cursor"])
            if match is None:
                problems.append({"path": "cursor", "message": "Invalid cursor"})
            else:
                start = int(match.group(1))
        if problems:
            return self._error(400, details=problems)

        def keep(index: int, thread: dict[str, Any]) -> bool:
            if start is not None and index >= start:
                return False
            for name in ("status", "origin", "pain_level"):
                if name in query and thread[name] != query[name]:
                    return False
            contact = thread["contact"]
            if "contact_id" in query and contact["id"] != query["contact_id"]:
                return False
            # contact_email: not in the documented filter list; a convenience of the fake.
            if (
                "contact_email" in query
                and (contact["email"] or "").lower() != query["contact_email"].lower()
            ):
                return False
            if "assignee_id" in query and (thread["assignee"] or {}).get("id") != query["assignee_id"]:
                return False
            if "company_id" in query and (thread["company"] or {}).get("id") != query["company_id"]:
                return False
            if "tag_id" in query and query["tag_id"] not in {t["id"] for t in thread["tags"]}:
                return False
            for name in ("project_id", "issue_id"):
                if name in query and query[name] not in {n[name] for n in thread["customer_needs"]}:
                    return False
            for name, when in bounds.items():
                stamp = _parse_when(thread[name.split("_")[0] + "_at"])
                assert stamp is not None
                if name.endswith("_after") and not stamp > when:
                    return False
                if name.endswith("_before") and not stamp < when:
                    return False
            return True

        with self._lock:
            matching = [
                (i, self._public(t)) for i, t in reversed(list(enumerate(self._threads))) if keep(i, t)
            ]
        page = matching[:limit]
        has_more = len(matching) > limit
        cursor = f"cur_{page[-1][0]}" if has_more and page else None
        return self._json(
            200,
            {
                "data": [t for _, t in page],
                "page": {"cursor": cursor, "has_more": has_more, "limit": limit},
            },
        )

    def _get_thread(self, thread_id: str) -> _Reply:
        with self._lock:
            for thread in self._threads:
                if thread["id"] == thread_id:
                    return self._json(200, self._public(thread))
        return self._error(404, message="Thread not found.")

    def _get_named(self, store: dict[str, dict[str, Any]], path: str, what: str) -> _Reply:
        with self._lock:
            found = store.get(unquote(path.split("/")[2]))
            if found is None:
                return self._error(404, message=f"{what} not found.")
            return self._json(200, dict(found))

    def _contact_by_email(self, record: RecordedRequest) -> _Reply:
        email = (record.query.get("email") or [""])[-1]
        if not email:
            return self._error(400, details=[{"path": "email", "message": "Required"}])
        with self._lock:
            contact = self._contacts.get(email.lower())
            if contact is None:
                return self._error(404, message="Contact not found.")
            return self._json(200, dict(contact))

    # -- capture: POST /files and PATCH /threads/{id} ---------------------------------------------

    def _init_capture(self) -> None:
        self.upload_limit_per_minute = UPLOADS_PER_MINUTE
        self.upload_limit_per_day = UPLOADS_PER_DAY
        # Replaces the answer to an accepted upload (e.g. one without a URL): stored file → body.
        self.upload_answer: Callable[[dict[str, Any]], Any] | None = None
        self._uploads: list[dict[str, Any]] = []
        self._upload_log: deque[float] = deque()
        self.upload_count = 0  # POST /files requests received (whatever the outcome)
        self.patch_count = 0  # PATCH /threads/{id} requests received

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """Every file accepted by POST /files, oldest first (without its bytes; ``sha256`` instead)."""
        with self._lock:
            return [{k: v for k, v in upload.items() if k != "_data"} for upload in self._uploads]

    def uploaded_bytes(self, file_id: str) -> bytes:
        with self._lock:
            for upload in self._uploads:
                if upload["id"] == file_id:
                    return bytes(upload["_data"])
        raise KeyError(file_id)

    def _route_capture(self, record: RecordedRequest, scopes: list[str]) -> _Reply | None:
        """Answers POST /files and PATCH /threads/{id}; None for any other route."""
        if record.method == "POST" and record.path == "/files":
            with self._lock:
                self.upload_count += 1
            return self._scope(scopes, "files:write") or self._upload(record)
        if record.method == "PATCH" and record.path.startswith("/threads/"):
            with self._lock:
                self.patch_count += 1
            return self._scope(scopes, "threads:write") or self._patch_thread(record)
        return None

    def _upload(self, record: RecordedRequest) -> _Reply:
        content_type = record.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return self._error(400, details=[{"path": "file", "message": "Expected multipart/form-data"}])
        part = _multipart_file(record.body, content_type, "file")
        if part is None:
            return self._error(400, details=[{"path": "file", "message": "Required"}])
        name, part_type, data = part
        if len(data) > MAX_UPLOAD_BYTES:
            return self._error(
                400,
                message="File too large: at most 10 MB.",
                details=[{"path": "file", "message": "File must be at most 10 MB"}],
            )
        if part_type not in UPLOAD_TYPES:
            return self._error(
                400,
                message=f"Unsupported file type {part_type}.",
                details=[{"path": "file", "message": f"Unsupported file type: {part_type}"}],
            )
        with self._changed:
            now = self._clock()
            while self._upload_log and self._upload_log[0] + 60.0 <= now:
                self._upload_log.popleft()
            if len(self._upload_log) >= self.upload_limit_per_minute:
                wait = self._upload_log[-self.upload_limit_per_minute] + 60.0 - now
                return self._error(
                    429,
                    message="Upload rate limit exceeded.",
                    details={"limit": self.upload_limit_per_minute, "window": "1m", "scope": "files"},
                    retry_after=max(1, math.ceil(wait)),
                )
            if len(self._uploads) >= self.upload_limit_per_day:
                return self._error(
                    429,
                    message="Daily upload limit reached.",
                    details={"limit": self.upload_limit_per_day, "window": "1d", "scope": "files"},
                    retry_after=3600,
                )
            self._upload_log.append(now)
            file_id = _new_id("file_")
            stored = {
                "id": file_id,
                "url": f"https://cdn.productlane.test/files/{file_id}/{quote(name)}",
                "name": name,
                "content_type": part_type,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "created_at": _iso(self._wall()),
                "_data": data,
            }
            self._uploads.append(stored)
            self._changed.notify_all()
            answer = self.upload_answer
        public = {k: v for k, v in stored.items() if not k.startswith("_") and k != "sha256"}
        return self._json(201, answer(public) if answer is not None else public)

    def _patch_thread(self, record: RecordedRequest) -> _Reply:
        thread_id = unquote(record.path.split("/")[2])
        body = record.json
        if not isinstance(body, dict):
            return self._error(400, details=[{"path": "", "message": "Expected object"}])
        details = validate_update_thread(body)
        if details:
            return self._error(400, message=f"Validation failed: {details[0]['message']}.", details=details)
        with self._changed:
            thread = next((t for t in self._threads if t["id"] == thread_id), None)
            if thread is None:
                return self._error(404, message="Thread not found.")
            unknown = self.catalog.unknown(body)
            if unknown:
                return self.catalog.refusal(unknown)
            self.catalog.apply_patch(thread, body)
            for name in ("title", "pain_level", "status", "text"):
                if name in body:
                    thread[name] = body[name]
            thread["updated_at"] = _iso(self._wall())
            self._changed.notify_all()
            return self._json(200, self._public(thread))

    # -- rate limits

    def _rate_check(self, method: str) -> _Reply | None:
        write = method in ("POST", "PATCH", "PUT", "DELETE")
        with self._lock:
            now = self._clock()
            log = self._write_log if write else self._read_log
            while log and log[0] + 60.0 <= now:
                log.popleft()
            if self.enforce_rate_limit:
                wait = 0.0
                limit = self.write_limit if write else self.read_limit
                if len(log) >= limit:
                    wait = log[-limit] + 60.0 - now
                if write:
                    recent = [t for t in log if t + self.write_burst_window > now]
                    if len(recent) >= self.write_burst:
                        wait = max(wait, recent[-self.write_burst] + self.write_burst_window - now)
                if wait > 0:
                    return self._error(429, retry_after=max(1, math.ceil(wait)))
            log.append(now)
        return None

    def _rate_headers(self, method: str) -> dict[str, str]:
        write = method in ("POST", "PATCH", "PUT", "DELETE")
        with self._lock:
            now = self._clock()
            log = self._write_log if write else self._read_log
            used = sum(1 for t in log if t + 60.0 > now)
            limit = self.write_limit if write else self.read_limit
            reset_in = (log[0] + 60.0 - now) if log else 0.0
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(math.ceil(self._wall() + max(0.0, reset_in))),
        }

    # -- answers

    @staticmethod
    def _bearer(header: str) -> str | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def _scope(self, scopes: list[str], needed: str) -> _Reply | None:
        if needed in scopes:
            return None
        return self._error(
            403,
            message=f"This endpoint requires the `{needed}` scope.",
            details={"required": [needed], "granted": scopes},
        )

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> _Reply:
        return _Reply(status, json.dumps(body).encode(), headers=headers or {})

    def _error(
        self,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
    ) -> _Reply:
        default_code, default_message = DEFAULT_ERRORS.get(status, ("error", "Error."))
        if details is None and status == 403 and (code or default_code) == "scope_required":
            details = {"required": ["threads:write"], "granted": list(self.scopes)}
        if details is None and status == 429:
            details = {"limit": self.write_limit, "window": "1m"}
        if details is None and status == 400:
            details = []
        error: dict[str, Any] = {
            "code": code or default_code,
            "message": message or default_message,
        }
        if details is not None:
            error["details"] = details
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = (
                str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            )
        reply = self._json(status, {"error": error}, headers)
        reply.envelope = True
        return reply

    def _apply_fault(self, h: _Handler, record: RecordedRequest, fault: _Fault) -> None:
        if fault.kind == "drop":
            self._drop(h, record)
        elif fault.kind == "html":
            body = PROXY_HTML.format(status=fault.status).encode()
            self._send(h, record, _Reply(fault.status, body, "text/html"))
        else:
            self._send(
                h,
                record,
                self._error(
                    fault.status,
                    code=fault.code,
                    message=fault.message,
                    details=fault.details,
                    retry_after=fault.retry_after,
                ),
            )

    def _drop(self, h: _Handler, record: RecordedRequest) -> None:
        record.status = None
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, h: _Handler, record: RecordedRequest, reply: _Reply) -> None:
        request_id = "req_" + secrets.token_hex(8)
        body = reply.body
        if reply.envelope:
            envelope = json.loads(body)
            envelope["error"]["request_id"] = request_id
            body = json.dumps(envelope).encode()
        if reply.status == 429:
            with self._lock:
                self.rate_limited_count += 1
        record.status = reply.status
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("X-Request-Id", request_id)
            for name, value in {**self._rate_headers(record.method), **reply.headers}.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed the connection
            h.close_connection = True

"""Loopback fakes of Slack: real servers on 127.0.0.1, random ports, for end-to-end tests.

* `FakeSlackWebAPI` — an HTTP server speaking the Web API the way `slack_sdk.WebClient` calls it
  (POST /api/<method>, form or JSON body, `Authorization: Bearer …`). It records every call and
  answers with sensible defaults, or with whatever a test configured through `respond()`.
* `FakeSocketModeServer` — a WebSocket server speaking socket-mode frames (hello, envelopes,
  acks, disconnect) that slack_sdk's builtin `SocketModeClient` (and so Bolt's
  `SocketModeHandler`) connects to.
* `FakeSlack` — both together, `apps.connections.open` pointing at the socket server, plus
  builders for the payloads Slack would send (shortcuts, slash commands, view submissions…).
  Their `response_url`s point at the fake Web API too, which records POSTs to them as calls
  whose method is `RESPONSE_URL`.

slack_sdk reads HTTP(S)_PROXY and ignores NO_PROXY: clear those variables in tests, or the
clients send loopback traffic to the proxy.

Usage::

    with FakeSlack() as slack:
        app = App(client=WebClient(base_url=slack.api_url, token=slack.bot_token))
        handler = SocketModeHandler(app, slack.app_token)
        handler.connect()
        envelope_id = slack.socket.send_envelope(
            "interactive", slack.message_shortcut_payload("send_to_productlane")
        )
        slack.socket.wait_ack(envelope_id)
        opened = slack.web.wait_for_call("views.open")
        handler.close()

All times recorded here come from `time.monotonic()`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes import multipart
from tests.fakes.serving import stop_serving
from tests.fakes.slack_home import home_methods
from tests.fakes.slack_reactions import reaction_methods
from tests.pace import PATIENCE

JSONDict = dict[str, Any]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"

DEFAULT_BOT_TOKEN = "xoxb-test-token"
DEFAULT_APP_TOKEN = "xapp-1-A0BOT00001-test-token"
TEAM_ID = "T0ACME0001"
TEAM_DOMAIN = "acme"
TEAM_NAME = "Acme"
APP_ID = "A0BOT00001"
BOT_ID = "B0BOT00001"
BOT_USER_ID = "U0BOT00001"
BOT_USER_NAME = "productlane"
WORKSPACE_URL = f"https://{TEAM_DOMAIN}.slack.com/"

# What the app manifest asks for (manifest.yml); a real install grants exactly these.
DEFAULT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
    "channels:join",
    "im:write",
    "files:read",
    "reactions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "reactions:write",
    "team:read",
)

# Form fields slack_sdk sends as JSON strings; the record decodes them to objects.
JSON_FORM_FIELDS = frozenset({"view", "blocks", "attachments", "metadata", "unfurls", "user_auth_blocks"})

# Limits Slack enforces on views (https://docs.slack.dev/reference/views/modal-views).
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_BLOCKS = 50
MAX_TITLE_CHARS = 24
MAX_PRIVATE_METADATA_CHARS = 3000
MAX_CALLBACK_ID_CHARS = 255
MAX_TEXT_CHARS = 40_000

# Call.method of a POST to a response_url handed out by `FakeSlackWebAPI.new_response_url()`.
RESPONSE_URL = "response_url"

# Where the fake serves file downloads (files.slack.com/files-pri/… on the real one).
FILES_PATH = "/files-pri/"
SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class Download:
    """One request for a file's bytes."""

    file_id: str
    token: str | None
    status: int
    size: int  # bytes served
    authorised: bool  # the bot token with files:read: the file itself, not the sign-in page
    time: float


EnvelopeType = Literal["interactive", "slash_commands", "events_api"]


def load_fixture(name: str) -> Any:
    """A fresh copy of tests/fixtures/slack/<name> (".json" may be left off)."""
    path = FIXTURES / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _new_trigger_id() -> str:
    return f"{secrets.randbelow(10**10):010d}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}"


def _now_ts() -> str:
    return f"{time.time():.6f}"


def _wait(cond: threading.Condition, ready: Callable[[], Any], timeout: float, what: str) -> Any:
    """Wait on `cond` (held by the caller) until `ready()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        result = ready()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(what)
        cond.wait(remaining)


# ======================================================================================
# Web API
# ======================================================================================


@dataclass
class Call:
    """One request the fake Web API received.

    `params` holds the decoded parameters (query, form or JSON body, the JSON-string form fields
    such as `view` and `blocks` decoded to objects); `raw_params` the same before that decoding.
    `status` and `response` are what the fake answered (set before any configured delay).
    """

    method: str  # "chat.postMessage", or RESPONSE_URL for a POST to a response_url
    path: str
    params: JSONDict
    raw_params: JSONDict
    token: str | None
    headers: dict[str, str]
    body: bytes
    content_type: str
    time: float
    status: int = 0
    response: JSONDict = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)


Body = JSONDict | Callable[[Call], JSONDict]


@dataclass
class _Answer:
    body: Body
    status: int
    headers: dict[str, str]
    delay: float
    times: int | None


class _SlackError(Exception):
    """Raised by a default handler to answer `{"ok": false, "error": …}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: JSONDict = {"ok": False, "error": error, **extra}


def _invalid_arguments(*messages: str) -> _SlackError:
    return _SlackError(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]}
    )


def _default_users() -> dict[str, JSONDict]:
    jane = load_fixture("users_info_response")["user"]
    dana = {
        "id": "U0CSM0002",
        "team_id": TEAM_ID,
        "name": "dana",
        "deleted": False,
        "real_name": "Dana Whitfield",
        "tz": "Europe/Berlin",
        "is_bot": False,
        "is_restricted": False,
        "profile": {
            "real_name": "Dana Whitfield",
            "display_name": "dana",
            "email": "dana@acme.example",
            "image_72": "https://avatars.example/dana_72.png",
        },
    }
    sam = {
        "id": "U0CSM0001",
        "team_id": TEAM_ID,
        "name": "sam",
        "deleted": False,
        "real_name": "Sam Okafor",
        "tz": "Europe/London",
        "is_bot": False,
        "is_restricted": False,
        "profile": {
            "real_name": "Sam Okafor",
            "display_name": "sam",
            "email": "sam@acme.example",
            "image_72": "https://avatars.example/sam_72.png",
        },
    }
    bot = {
        "id": BOT_USER_ID,
        "team_id": TEAM_ID,
        "name": BOT_USER_NAME,
        "deleted": False,
        "real_name": "Productlane",
        "is_bot": True,
        "is_restricted": False,
        "profile": {"real_name": "Productlane", "display_name": "", "bot_id": BOT_ID},
    }
    users: list[JSONDict] = [jane, dana, sam, bot]
    return {u["id"]: u for u in users}


def make_channel(
    channel_id: str,
    name: str,
    *,
    is_private: bool = False,
    is_member: bool = True,
    is_ext_shared: bool = False,
    is_shared: bool | None = None,
    is_im: bool = False,
    is_mpim: bool = False,
    is_archived: bool = False,
    **extra: Any,
) -> JSONDict:
    """A conversation object as conversations.info returns it."""
    channel: JSONDict = {
        "id": channel_id,
        "name": name,
        "is_channel": not (is_private or is_im or is_mpim),
        "is_group": is_private and not is_mpim,
        "is_im": is_im,
        "is_mpim": is_mpim,
        "is_private": is_private or is_im or is_mpim,
        "is_archived": is_archived,
        "is_general": False,
        "is_shared": is_ext_shared if is_shared is None else is_shared,
        "is_ext_shared": is_ext_shared,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "is_member": is_member,
        "context_team_id": TEAM_ID,
        "created": 1700000000,
    }
    channel.update(extra)
    return channel


def _default_channels() -> dict[str, JSONDict]:
    return {"C0FEEDBACK": make_channel("C0FEEDBACK", "customer-feedback")}


def _default_usergroups() -> list[JSONDict]:
    return [
        {
            "id": "S0SUPPORT1",
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": "Support",
            "handle": "support",
            "description": "Customer success",
            "date_delete": 0,
            "user_count": 2,
        }
    ]


def _decode_json_fields(params: Mapping[str, Any]) -> JSONDict:
    decoded: JSONDict = dict(params)
    for key in JSON_FORM_FIELDS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                decoded[key] = json.loads(value)
    return decoded


def _parse_multipart(body: bytes, content_type: str) -> JSONDict:
    fields: JSONDict = {}
    for part in multipart.parts(body, content_type):
        if part.name is not None:
            fields[part.name] = part.data if part.filename else part.data.decode("utf-8")
    return fields


class _Handler(BaseHTTPRequestHandler):
    server: _WebServer
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True
    # Slack takes bursts; socketserver's backlog of 5 would turn a burst of calls into resets.
    request_queue_size = 128
    fake: FakeSlackWebAPI


class FakeSlackWebAPI:
    """A loopback HTTP server speaking Slack's Web API. Thread-safe.

    Tests may read or change `users`, `channels`, `usergroups`, `scopes` and `views` at any time
    (they are plain containers; hold `lock` for compound changes while the bot runs).
    """

    reactions: dict[tuple[str, str], list[str]]  # the bot's reactions by (channel, ts): slack_reactions.py

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        users: Mapping[str, JSONDict] | None = None,
        channels: Mapping[str, JSONDict] | None = None,
        usergroups: Iterable[JSONDict] | None = None,
        socket_url: Callable[[], str] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes: list[str] = list(scopes)
        self.users: dict[str, JSONDict] = dict(users) if users is not None else _default_users()
        self.channels: dict[str, JSONDict] = dict(channels) if channels is not None else _default_channels()
        self.usergroups: list[JSONDict] = (
            list(usergroups) if usergroups is not None else _default_usergroups()
        )
        # Latest state of every view opened/pushed/updated, by view id.
        self.views: dict[str, JSONDict] = {}
        # Each person's App Home as last published (views.publish), by user id: see slack_home.py.
        self.homes: dict[str, JSONDict] = {}
        # Other organizations' workspaces (Slack Connect), as team.info shows them, by team id.
        self.teams: dict[str, JSONDict] = {}
        # Where apps.connections.open sends the client; FakeSlack points it at its socket server.
        self.socket_url = socket_url
        # Exceptions raised inside the fake while answering (a bug in the fake or a body callable).
        self.errors: list[BaseException] = []

        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self._calls: list[Call] = []
        self._answers: dict[str, list[_Answer]] = {}
        self._standing: dict[str, _Answer] = {}
        self._delays: dict[str, float] = {}
        self._held: set[str] = set()
        self._view_order: list[str] = []
        self._external_ids: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._ts = itertools.count(100)
        self._closing = threading.Event()
        self._server: _WebServer | None = None
        self._thread: threading.Thread | None = None
        self._defaults: dict[str, tuple[str, Callable[[Call], JSONDict]]] = {
            "auth.test": ("bot", self._auth_test),
            "apps.connections.open": ("app", self._apps_connections_open),
            "users.info": ("bot", self._users_info),
            "users.list": ("bot", self._users_list),
            "conversations.info": ("bot", self._conversations_info),
            "conversations.members": ("bot", self._conversations_members),
            "conversations.join": ("bot", self._conversations_join),
            "conversations.open": ("bot", self._conversations_open),
            "chat.getPermalink": ("bot", self._chat_get_permalink),
            "chat.postMessage": ("bot", self._chat_post_message),
            "chat.postEphemeral": ("bot", self._chat_post_ephemeral),
            "chat.update": ("bot", self._chat_update),
            "views.open": ("bot", self._views_open),
            "views.push": ("bot", self._views_push),
            "views.update": ("bot", self._views_update),
            "team.info": ("bot", self._team_info),
            "usergroups.list": ("bot", self._usergroups_list),
            **self._capture_methods(),
            **reaction_methods(self),
            **home_methods(self),
            RESPONSE_URL: ("none", lambda call: {"ok": True}),
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlackWebAPI:
        if self._server is not None:
            return self
        server = _WebServer(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack-web",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping on a configured delay
        server, self._server = self._server, None
        if server is not None:
            stop_serving(server)
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlackWebAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlackWebAPI is not started")
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        """The `base_url` for `WebClient`, e.g. http://127.0.0.1:PORT/api/."""
        return f"http://127.0.0.1:{self.port}/api/"

    # ------------------------------------------------------------------ configuration

    def respond(
        self,
        method: str,
        body: Body,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answer `method` with `body` (a dict, or a function of the `Call` returning one).

        With `times=N` the answer is used for the next N calls, after any answers queued
        before it, then the method falls back to its standing answer or default. With
        `times=None` it becomes the standing answer, replacing an earlier standing one.
        Configured answers skip the fake's token and scope checks. `delay` seconds pass
        before the answer goes out (the call is recorded at once).
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for always")
        answer = _Answer(body, status, dict(headers or {}), delay, times)
        with self.lock:
            if times is None:
                self._standing[method] = answer
            else:
                self._answers.setdefault(method, []).append(answer)

    def delay(self, method: str, seconds: float) -> None:
        """Answer `method` as usual (its default behaviour), but `seconds` later: a slow Slack.
        The call is recorded at once. 0 removes the delay."""
        with self.lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def hold(self, method: str) -> None:
        """Record calls to `method` at once but answer none of them until `release`: a test sees
        what the bot does while Slack has not answered, whatever the machine's speed."""
        with self.lock:
            self._held.add(method)

    def release(self, method: str | None = None) -> None:
        """Answer the held calls (to `method`, or all) now, and hold no more of them."""
        with self._cond:
            if method is None:
                self._held.clear()
            else:
                self._held.discard(method)
            self._cond.notify_all()

    def reset_delays(self) -> None:
        """Answer every method at once again (what `delay` set is forgotten)."""
        with self.lock:
            self._delays.clear()

    def reset_responses(self, method: str | None = None) -> None:
        """Drop configured answers (for one method, or all)."""
        with self.lock:
            if method is None:
                self._answers.clear()
                self._standing.clear()
            else:
                self._answers.pop(method, None)
                self._standing.pop(method, None)

    def add_user(self, user: JSONDict) -> None:
        with self.lock:
            self.users[user["id"]] = user

    def add_channel(self, channel_id: str, name: str, **flags: Any) -> JSONDict:
        """Add (or replace) a conversation; flags as for `make_channel`."""
        channel = make_channel(channel_id, name, **flags)
        with self.lock:
            self.channels[channel_id] = channel
        return channel

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for_call(
        self,
        method: str,
        timeout: float = PATIENCE,
        predicate: Callable[[Call], bool] | None = None,
    ) -> Call:
        """The first recorded call to `method` (matching `predicate`), waiting for it to arrive."""

        def find() -> Call | None:
            for call in self._calls:
                if call.method == method and (predicate is None or predicate(call)):
                    return call
            return None

        with self._cond:
            try:
                result: Call = _wait(self._cond, find, timeout, "")
            except TimeoutError:
                seen = [c.method for c in self._calls]
                raise TimeoutError(f"no {method} call within {timeout}s; calls so far: {seen}") from None
            return result

    def clear(self) -> None:
        """Forget recorded calls (views, users, channels and configured answers stay)."""
        with self.lock:
            self._calls.clear()
            self.errors.clear()

    def new_response_url(self, kind: str = "actions") -> str:
        """A response_url served by this fake (calls to it are recorded as RESPONSE_URL)."""
        return f"http://127.0.0.1:{self.port}/hooks/{kind}/{TEAM_ID}/{secrets.token_hex(8)}"

    def last_view(self, callback_id: str | None = None) -> JSONDict:
        """The most recently opened/pushed/updated view (with that callback_id)."""
        with self.lock:
            for view_id in reversed(self._view_order):
                view = self.views[view_id]
                if callback_id is None or view.get("callback_id") == callback_id:
                    return copy.deepcopy(view)
        raise LookupError(f"no view opened (callback_id={callback_id!r})")

    # ------------------------------------------------------------------ HTTP plumbing

    def _handle(self, request: _Handler) -> None:
        url = urlsplit(request.path)
        if url.path.startswith("/api/"):
            method = url.path[len("/api/") :]
        elif url.path.startswith("/hooks/"):
            method = RESPONSE_URL
        elif url.path.startswith(FILES_PATH):
            self._serve_file(request, url.path)
            return
        else:
            self._send(request, 404, {"ok": False, "error": "not_found"}, {})
            return
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        content_type = request.headers.get("Content-Type", "")
        raw: JSONDict = dict(parse_qsl(url.query, keep_blank_values=True))
        parse_error: str | None = None
        try:
            if content_type.startswith("application/json"):
                parsed = json.loads(body or b"{}")
                if not isinstance(parsed, dict):
                    raise ValueError("JSON body is not an object")
                raw.update(parsed)
            elif content_type.startswith("multipart/form-data"):
                raw.update(_parse_multipart(body, content_type))
            elif body:
                raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except ValueError as e:
            parse_error = str(e)
        token: str | None = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip()
        elif isinstance(raw.get("token"), str):
            token = raw["token"]
        call = Call(
            method=method,
            path=url.path,
            params=_decode_json_fields(raw),
            raw_params=raw,
            token=token,
            headers=dict(request.headers.items()),
            body=body,
            content_type=content_type,
            time=time.monotonic(),
        )
        delay = 0.0
        headers: dict[str, str] = {}
        try:
            if parse_error is not None:
                status, answer, headers = 200, {"ok": False, "error": "invalid_json"}, {}
            else:
                status, answer, headers, delay = self._answer(call)
        except Exception as e:
            with self.lock:
                self.errors.append(e)
            status, answer, headers = 500, {"ok": False, "error": f"fake_error: {e!r}"}, {}
        call.status, call.response, call.response_headers = status, answer, headers
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
            while call.method in self._held and not self._closing.is_set():
                self._cond.wait(0.1)
        if delay > 0:
            self._closing.wait(delay)
        self._send(request, status, answer, headers)

    def _send(self, request: _Handler, status: int, body: JSONDict, headers: Mapping[str, str]) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json; charset=utf-8")
            request.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to answer

    def _answer(self, call: Call) -> tuple[int, JSONDict, dict[str, str], float]:
        with self.lock:
            queued = self._answers.get(call.method)
            configured: _Answer | None = None
            if queued:
                configured = queued[0]
                assert configured.times is not None
                configured.times -= 1
                if configured.times <= 0:
                    queued.pop(0)
            else:
                configured = self._standing.get(call.method)
        if configured is not None:
            body = configured.body(call) if callable(configured.body) else configured.body
            return (
                configured.status,
                copy.deepcopy(body),
                dict(configured.headers),
                configured.delay,
            )

        headers: dict[str, str] = {}
        default = self._defaults.get(call.method)
        if default is None:
            return 200, {"ok": False, "error": "unknown_method"}, headers, 0.0
        kind, handler = default
        expected = self.bot_token if kind == "bot" else self.app_token
        if kind == "none":
            pass
        elif not call.token:
            return 200, {"ok": False, "error": "not_authed"}, headers, 0.0
        elif call.token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}, headers, 0.0
        if kind == "bot":
            with self.lock:
                headers["x-oauth-scopes"] = ",".join(self.scopes)
        try:
            with self.lock:
                body = handler(call)
                delay = self._delays.get(call.method, 0.0)
        except _SlackError as e:
            body, delay = e.body, 0.0
        return 200, body, headers, delay

    # ------------------------------------------------------------------ helpers for handlers

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _need_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _SlackError("missing_scope", needed=scope, provided=",".join(self.scopes))

    @staticmethod
    def _param(call: Call, name: str, error: str = "invalid_arguments") -> Any:
        value = call.params.get(name)
        if value in (None, ""):
            if error == "invalid_arguments":
                raise _invalid_arguments(f"missing required field: {name}")
            raise _SlackError(error)
        return value

    def _dm_channel_for(self, user_id: str) -> str:
        channel_id = "D" + user_id[1:]
        if channel_id not in self.channels:
            self.channels[channel_id] = make_channel(channel_id, "", is_im=True, is_member=True, user=user_id)
        return channel_id

    def _channel_for_posting(self, call: Call) -> str:
        channel_id = str(self._param(call, "channel", "channel_not_found"))
        if channel_id[0] in "UW":  # posting to a user id goes to the DM with them
            return self._dm_channel_for(channel_id)
        channel = self.channels.get(channel_id)
        if channel is not None:
            if channel.get("is_archived"):
                raise _SlackError("is_archived")
            if not channel.get("is_member") and (
                channel.get("is_private") or "chat:write.public" not in self.scopes
            ):
                raise _SlackError("not_in_channel")
        return channel_id

    # ------------------------------------------------------------------ default answers

    def _auth_test(self, call: Call) -> JSONDict:
        return {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": TEAM_NAME,
            "user": BOT_USER_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, call: Call) -> JSONDict:
        if self.socket_url is None:
            raise _SlackError("fake_has_no_socket_mode_server")
        return {"ok": True, "url": self.socket_url()}

    def _users_list(self, call: Call) -> JSONDict:
        """Every known person, one page (the bot asks it for the workspace's admins)."""
        self._need_scope("users:read")
        return {"ok": True, "members": copy.deepcopy(list(self.users.values())), "response_metadata": {}}

    def _users_info(self, call: Call) -> JSONDict:
        self._need_scope("users:read")
        user = self.users.get(str(call.params.get("user", "")))
        if user is None:
            raise _SlackError("user_not_found")
        user = copy.deepcopy(user)
        if "users:read.email" not in self.scopes:
            user.get("profile", {}).pop("email", None)
        return {"ok": True, "user": user}

    def _conversations_info(self, call: Call) -> JSONDict:
        channel = self.channels.get(str(self._param(call, "channel", "channel_not_found")))
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel.get("is_im"):
            self._need_scope("im:read")
        elif channel.get("is_mpim"):
            self._need_scope("mpim:read")
        elif channel.get("is_private"):
            self._need_scope("groups:read")
            if not channel.get("is_member"):
                raise _SlackError("channel_not_found")
        else:
            self._need_scope("channels:read")
        return {"ok": True, "channel": copy.deepcopy(channel)}

    def _conversations_members(self, call: Call) -> JSONDict:
        """The channel's ``members`` when a test set them (``add_channel(..., members=[...])``),
        else every person the fake knows."""
        channel = self.channels.get(str(self._param(call, "channel", "channel_not_found")))
        if channel is None:
            raise _SlackError("channel_not_found")
        members = channel.get("members")
        if members is None:
            members = [user_id for user_id, user in self.users.items() if not user.get("is_bot")]
        return {"ok": True, "members": list(members), "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, call: Call) -> JSONDict:
        self._need_scope("channels:join")
        channel = self.channels.get(str(self._param(call, "channel", "channel_not_found")))
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel.get("is_private"):
            raise _SlackError("method_not_supported_for_channel_type")
        if channel.get("is_archived"):
            raise _SlackError("is_archived")
        already = bool(channel.get("is_member"))
        channel["is_member"] = True
        answer: JSONDict = {"ok": True, "channel": copy.deepcopy(channel)}
        if already:
            answer["warning"] = "already_in_channel"
        return answer

    def _conversations_open(self, call: Call) -> JSONDict:
        if call.params.get("channel"):
            channel = self.channels.get(str(call.params["channel"]))
            if channel is None:
                raise _SlackError("channel_not_found")
            return {"ok": True, "channel": {"id": channel["id"]}}
        users = [u for u in str(call.params.get("users", "")).split(",") if u]
        if not users:
            raise _SlackError("users_list_not_supplied")
        for user_id in users:
            if user_id not in self.users:
                raise _SlackError("user_not_found")
        if len(users) == 1:
            self._need_scope("im:write")
            return {"ok": True, "channel": {"id": self._dm_channel_for(users[0])}}
        self._need_scope("mpim:write")
        channel_id = self._next_id("G")
        self.channels[channel_id] = make_channel(channel_id, "mpdm-" + "--".join(users), is_mpim=True)
        return {"ok": True, "channel": {"id": channel_id}}

    def _chat_get_permalink(self, call: Call) -> JSONDict:
        channel = str(self._param(call, "channel", "channel_not_found"))
        ts = str(self._param(call, "message_ts", "message_not_found"))
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _check_message(self, call: Call) -> None:
        blocks = call.params.get("blocks")
        text = call.params.get("text")
        if not (text or blocks or call.params.get("attachments")):
            raise _SlackError("no_text")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_MESSAGE_BLOCKS):
            raise _SlackError("invalid_blocks")
        if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
            raise _SlackError("msg_too_long")

    def _message(self, call: Call, ts: str) -> JSONDict:
        message: JSONDict = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": call.params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if call.params.get(key):
                message[key] = call.params[key]
        return message

    def _chat_post_message(self, call: Call) -> JSONDict:
        self._need_scope("chat:write")
        channel = self._channel_for_posting(call)
        self._check_message(call)
        ts = self._next_ts()
        return {"ok": True, "channel": channel, "ts": ts, "message": self._message(call, ts)}

    def _chat_post_ephemeral(self, call: Call) -> JSONDict:
        self._need_scope("chat:write")
        self._channel_for_posting(call)
        user = str(self._param(call, "user", "user_not_found"))
        if user not in self.users:
            raise _SlackError("user_not_found")
        self._check_message(call)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, call: Call) -> JSONDict:
        self._need_scope("chat:write")
        channel = str(self._param(call, "channel", "channel_not_found"))
        ts = str(self._param(call, "ts", "message_not_found"))
        self._check_message(call)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": call.params.get("text", ""),
            "message": self._message(call, ts),
        }

    def _team_info(self, call: Call) -> JSONDict:
        self._need_scope("team:read")
        other = call.params.get("team")
        if other and other != TEAM_ID:
            if other not in self.teams:
                raise _SlackError("team_not_found")
            return {"ok": True, "team": copy.deepcopy(self.teams[other])}
        return {
            "ok": True,
            "team": {
                "id": TEAM_ID,
                "name": TEAM_NAME,
                "domain": TEAM_DOMAIN,
                "url": WORKSPACE_URL,
                "email_domain": "acme.example",
                "icon": {"image_68": "https://avatars.example/acme_68.png"},
            },
        }

    def _usergroups_list(self, call: Call) -> JSONDict:
        self._need_scope("usergroups:read")
        return {"ok": True, "usergroups": copy.deepcopy(self.usergroups)}

    # views

    def _view_param(self, call: Call) -> JSONDict:
        view = call.params.get("view")
        if view in (None, ""):
            raise _invalid_arguments("missing required field: view")
        if not isinstance(view, dict):
            raise _invalid_arguments("failed to parse view: not a JSON object")
        problems = []
        kind = view.get("type")
        if kind not in ("modal", "home"):
            problems.append("must be a valid enum value [json-pointer:/view/type]")
        blocks = view.get("blocks", [])
        if not isinstance(blocks, list):
            problems.append("must be an array [json-pointer:/view/blocks]")
            blocks = []
        if kind == "modal":
            for key in ("title", "submit", "close"):
                text = (view.get(key) or {}).get("text", "")
                if key == "title" and not text:
                    problems.append("missing required field: title [json-pointer:/view/title]")
                if len(text) > MAX_TITLE_CHARS:
                    problems.append(
                        f"must be less than {MAX_TITLE_CHARS + 1} characters [json-pointer:/view/{key}/text]"
                    )
            has_input = any(b.get("type") == "input" for b in blocks if isinstance(b, dict))
            if has_input and not view.get("submit"):
                problems.append("must provide submit if view has input blocks [json-pointer:/view/submit]")
        if len(blocks) > MAX_VIEW_BLOCKS:
            problems.append(f"must contain at most {MAX_VIEW_BLOCKS} blocks")
        if len(view.get("private_metadata") or "") > MAX_PRIVATE_METADATA_CHARS:
            problems.append(
                f"must be less than {MAX_PRIVATE_METADATA_CHARS + 1} characters "
                "[json-pointer:/view/private_metadata]"
            )
        if len(view.get("callback_id") or "") > MAX_CALLBACK_ID_CHARS:
            problems.append("callback_id too long [json-pointer:/view/callback_id]")
        block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
        if len(block_ids) != len(set(block_ids)):
            problems.append("block_id must be unique [json-pointer:/view/blocks]")
        if problems:
            raise _invalid_arguments(*problems)
        return view

    def _store_view(
        self,
        requested: JSONDict,
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> JSONDict:
        view_id = view_id or self._next_id("V")
        external_id = requested.get("external_id", "")
        if external_id:
            owner = self._external_ids.get(external_id)
            if owner is not None and owner != view_id:
                raise _SlackError("duplicate_external_id")
            self._external_ids[external_id] = view_id
        view: JSONDict = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{secrets.token_urlsafe(6)}",
            "title": None,
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": APP_ID,
            "external_id": external_id,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        kept = {"id", "team_id", "state", "hash", "previous_view_id", "root_view_id", "app_id"}
        view.update({k: copy.deepcopy(v) for k, v in requested.items() if k not in kept})
        self.views[view_id] = view
        if view_id in self._view_order:
            self._view_order.remove(view_id)
        self._view_order.append(view_id)
        return copy.deepcopy(view)

    def _views_open(self, call: Call) -> JSONDict:
        self._param(call, "trigger_id")
        return {"ok": True, "view": self._store_view(self._view_param(call))}

    def _views_push(self, call: Call) -> JSONDict:
        self._param(call, "trigger_id")
        return {"ok": True, "view": self._store_view(self._view_param(call))}

    def _views_update(self, call: Call) -> JSONDict:
        view_id = call.params.get("view_id")
        external_id = call.params.get("external_id")
        if not view_id and not external_id:
            raise _invalid_arguments("either view_id or external_id is required")
        if not view_id:
            view_id = self._external_ids.get(str(external_id))
        current = self.views.get(str(view_id)) if view_id else None
        if current is None:
            raise _SlackError("not_found")
        requested = self._view_param(call)
        given_hash = call.params.get("hash")
        if given_hash and given_hash != current["hash"]:
            raise _SlackError("hash_conflict")
        view = self._store_view(
            requested,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return {"ok": True, "view": view}

    # ------------------------------------------------------------------ capture: files and threads
    # Files (files.info, downloads that need the bot token), messages and threads
    # (conversations.history, conversations.replies with pagination).

    def _capture_methods(self) -> dict[str, tuple[str, Callable[[Call], JSONDict]]]:
        self.files: dict[str, JSONDict] = {}  # what files.info answers, by file id
        self.file_contents: dict[str, bytes] = {}  # what a download serves, by file id
        self.messages: dict[str, list[JSONDict]] = {}  # every message by channel, replies included
        self.downloads: list[Download] = []
        # Files whose download Slack answers with a redirect (302, this Location), by file id.
        self.file_redirects: dict[str, str] = {}
        # The most messages one conversations.replies page holds, whatever `limit` asks for.
        self.replies_page_max = 1000
        return {
            "files.info": ("bot", self._files_info),
            "conversations.history": ("bot", self._conversations_history),
            "conversations.replies": ("bot", self._conversations_replies),
        }

    def add_file(self, file: Mapping[str, Any], content: bytes | None = None) -> JSONDict:
        """Make a file known (files.info) and downloadable (its content; by default bytes of its
        stated size). Returns the file object as a message carries it, its URLs on this fake."""
        stored = copy.deepcopy(dict(file))
        file_id = str(stored["id"])
        name = str(stored.get("name") or file_id)
        if stored.get("url_private") or stored.get("url_private_download"):
            # An upload, as Slack describes one: stored by Slack, not a remote file.
            stored.setdefault("mode", "hosted")
            stored.setdefault("is_external", False)
            base = f"http://127.0.0.1:{self.port}{FILES_PATH}{TEAM_ID}-{file_id}"
            stored["url_private"] = f"{base}/{name}"
            stored["url_private_download"] = f"{base}/download/{name}"
        with self.lock:
            self.files[file_id] = stored
            self.file_contents[file_id] = (
                content if content is not None else b"\x00" * int(stored.get("size") or 0)
            )
        return copy.deepcopy(stored)

    def add_message(self, channel_id: str, message: Mapping[str, Any]) -> JSONDict:
        """Post a message into the fake's history (a reply when it has a thread_ts other than ts)."""
        stored = copy.deepcopy(dict(message))
        with self.lock:
            self.messages.setdefault(channel_id, []).append(stored)
            self.messages[channel_id].sort(key=lambda m: float(m.get("ts") or 0))
        return copy.deepcopy(stored)

    def _readable_channel(self, channel_id: str) -> JSONDict:
        """The channel, if the bot may read its history: the scope for its type, and membership."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel.get("is_im"):
            self._need_scope("im:history")
        elif channel.get("is_mpim"):
            self._need_scope("mpim:history")
        elif channel.get("is_private"):
            self._need_scope("groups:history")
        else:
            self._need_scope("channels:history")
        if not channel.get("is_member"):
            raise _SlackError("channel_not_found" if channel.get("is_private") else "not_in_channel")
        return channel

    @staticmethod
    def _in_range(message: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
        ts = float(message.get("ts") or 0)
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        oldest, latest = params.get("oldest"), params.get("latest")
        if oldest not in (None, "") and not (ts > float(oldest) or (inclusive and ts == float(oldest))):
            return False
        return latest in (None, "") or ts < float(latest) or (inclusive and ts == float(latest))

    def _page(self, call: Call, found: list[JSONDict], page_max: int) -> JSONDict:
        limit = max(1, min(int(call.params.get("limit") or 100), page_max))
        start = 0
        cursor = str(call.params.get("cursor") or "")
        if cursor:
            if not cursor.startswith("next:"):
                raise _SlackError("invalid_cursor")
            start = int(cursor.removeprefix("next:"))
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": copy.deepcopy(page),
            "has_more": more,
            "response_metadata": {"next_cursor": f"next:{start + limit}" if more else ""},
        }

    def _conversations_history(self, call: Call) -> JSONDict:
        channel_id = str(self._param(call, "channel", "channel_not_found"))
        self._readable_channel(channel_id)
        stored = self.messages.get(channel_id, [])
        top = [
            m for m in stored if m.get("thread_ts") in (None, m.get("ts")) and self._in_range(m, call.params)
        ]
        # As Slack lists a thread's parent: with its reply count and its latest reply's ts.
        replies: dict[str, list[str]] = {}
        for message in stored:
            parent = message.get("thread_ts")
            if parent and parent != message.get("ts"):
                replies.setdefault(str(parent), []).append(str(message.get("ts")))
        listed = [
            {
                **m,
                "thread_ts": m["ts"],
                "reply_count": len(replies[m["ts"]]),
                "latest_reply": max(replies[m["ts"]], key=float),
            }
            if m.get("ts") in replies and "latest_reply" not in m
            else m
            for m in top
        ]
        return self._page(call, list(reversed(listed)), 1000)

    def _conversations_replies(self, call: Call) -> JSONDict:
        channel_id = str(self._param(call, "channel", "channel_not_found"))
        ts = str(self._param(call, "ts", "thread_not_found"))
        self._readable_channel(channel_id)
        history = self.messages.get(channel_id, [])
        pointed = next((m for m in history if m.get("ts") == ts), None)
        if pointed is None or pointed.get("subtype") in ("channel_join", "channel_leave"):
            raise _SlackError("thread_not_found")
        parent_ts = pointed.get("thread_ts") or ts
        thread = [
            m
            for m in history
            if parent_ts in (m.get("ts"), m.get("thread_ts")) and self._in_range(m, call.params)
        ]
        return self._page(call, thread, self.replies_page_max)

    def _files_info(self, call: Call) -> JSONDict:
        self._need_scope("files:read")
        file = self.files.get(str(self._param(call, "file", "file_not_found")))
        if file is None or file.get("mode") in ("tombstone", "file_access"):
            raise _SlackError("file_not_found")
        return {"ok": True, "file": copy.deepcopy(file)}

    def _serve_file(self, request: _Handler, path: str) -> None:
        """A download from files.slack.com: with the bot token (files:read) the bytes; without,
        Slack's sign-in page (HTML, status 200), as the real one answers."""
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        file_part = path.removeprefix(FILES_PATH).split("/", 1)[0]
        file_id = file_part.removeprefix(f"{TEAM_ID}-")
        with self.lock:
            file = self.files.get(file_id)
            content = self.file_contents.get(file_id)
            authorised = token == self.bot_token and "files:read" in self.scopes
            redirect = self.file_redirects.get(file_id)
        status, body, content_type = 200, content or b"", str((file or {}).get("mimetype") or "")
        if redirect is not None:
            status, body, content_type = 302, b"", "text/plain"
        elif file is None or content is None:
            status, body, content_type = 404, b"Not found", "text/plain"
        elif not authorised:
            body, content_type = SIGN_IN_PAGE, "text/html; charset=utf-8"
        with self._cond:
            self.downloads.append(Download(file_id, token, status, len(body), authorised, time.monotonic()))
            self._cond.notify_all()
        try:
            request.send_response(status)
            if redirect is not None:
                request.send_header("Location", redirect)
            request.send_header("Content-Type", content_type or "application/octet-stream")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the bot stopped reading (its size cap): nothing more to send

    def downloaded(self, file_id: str) -> list[Download]:
        """The downloads of a file that served its bytes (with the bot token)."""
        with self.lock:
            return [d for d in self.downloads if d.file_id == file_id and d.authorised and d.status == 200]


# ======================================================================================
# Socket mode
# ======================================================================================


@dataclass
class _Peer:
    """One accepted WebSocket connection."""

    number: int
    ws: ServerConnection
    path: str
    connected_at: float
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, frame: JSONDict) -> None:
        self.ws.send(json.dumps(frame))


@dataclass
class _Sent:
    frame: JSONDict
    sent_at: float
    connection: int


@dataclass
class Ack:
    """What the app answered to an envelope, and when it arrived."""

    envelope_id: str
    message: JSONDict
    received_at: float
    connection: int


class FakeSocketModeServer:
    """A loopback WebSocket server speaking Slack's socket-mode frames. Thread-safe.

    Connections must use a URL from `new_url()` (as apps.connections.open hands out):
    `ws://127.0.0.1:PORT/link/?ticket=…&app_id=…`; other paths get 404, unknown tickets 401.
    """

    def __init__(
        self,
        *,
        app_id: str = APP_ID,
        hello: JSONDict | None = None,
        keepalive_interval: float | None = 0.25,
    ) -> None:
        envelopes = load_fixture("socket_mode_envelopes")
        self.app_id = app_id
        self.hello: JSONDict = copy.deepcopy(hello) if hello is not None else envelopes["hello"]
        self.hello.setdefault("connection_info", {})["app_id"] = app_id
        self.disconnect_template: JSONDict = envelopes["disconnect"]
        # Seconds between server pings (None: none; the client's pings are always answered).
        # Slack pings too; here a short interval also wakes the builtin client's blocking recv(),
        # so that its close() returns in about 1 s instead of 3-4 s.
        self.keepalive_interval = keepalive_interval
        # Every text frame received that was not an ack (parsed JSON, or {"raw": text}).
        self.received: list[tuple[float, JSONDict]] = []
        # Handshakes refused: (path, reason).
        self.rejected: list[tuple[str, str]] = []
        self.pings_received = 0

        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self._tickets: set[str] = set()
        self._peers: list[_Peer] = []
        self._total = 0
        self._sent: dict[str, _Sent] = {}
        self._acks: dict[str, list[Ack]] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketModeServer:
        if self._server is not None:
            return self
        fake = self

        class _Connection(ServerConnection):
            def process_event(self, event: Any) -> None:
                if isinstance(event, Frame) and event.opcode is Opcode.PING:
                    with fake.lock:
                        fake.pings_received += 1
                super().process_event(event)

        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            compression=None,
            process_request=self._process_request,
            ping_interval=self.keepalive_interval,
            close_timeout=1,
            open_timeout=5,
            create_connection=_Connection,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-slack-socket-mode", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and close open connections (close frame 1001, going away)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSocketModeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSocketModeServer is not started")
        return int(self._server.socket.getsockname()[1])

    def new_url(self) -> str:
        """A fresh connection URL, as apps.connections.open returns it."""
        ticket = str(uuid.uuid4())
        with self.lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # ------------------------------------------------------------------ connections

    @property
    def connections(self) -> int:
        """How many connections are open now."""
        with self.lock:
            return len(self._peers)

    @property
    def total_connections(self) -> int:
        """How many connections were ever accepted (reconnections count)."""
        with self.lock:
            return self._total

    def wait_connected(self, timeout: float = PATIENCE, *, total: int | None = None) -> None:
        """Wait for an open connection, or with `total`, for that many accepted in all."""
        with self._cond:
            _wait(
                self._cond,
                lambda: self._peers if total is None else self._total >= total,
                timeout,
                f"socket-mode client not connected within {timeout}s "
                f"(open: {len(self._peers)}, ever: {self._total}, refused: {self.rejected})",
            )

    def wait_disconnected(self, timeout: float = PATIENCE) -> None:
        """Wait until no connection is open."""
        with self._cond:
            _wait(
                self._cond,
                lambda: not self._peers,
                timeout,
                f"socket-mode client still connected after {timeout}s",
            )

    def _newest_peer(self, timeout: float) -> _Peer:
        with self._cond:
            peers: list[_Peer] = _wait(
                self._cond,
                lambda: self._peers,
                timeout,
                f"no socket-mode connection within {timeout}s to send to",
            )
            return peers[-1]

    # ------------------------------------------------------------------ frames

    def send_envelope(
        self,
        type: EnvelopeType | str,
        payload: JSONDict,
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        timeout: float = PATIENCE,
    ) -> str:
        """Send an envelope to the newest connection (waiting for one); return its envelope_id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        frame: JSONDict = {
            "envelope_id": envelope_id,
            "type": type,
            "accepts_response_payload": (
                type != "events_api" if accepts_response_payload is None else accepts_response_payload
            ),
            "payload": payload,
        }
        if type == "events_api":
            frame["retry_attempt"] = retry_attempt
            frame["retry_reason"] = retry_reason
        peer = self._newest_peer(timeout)
        with peer.send_lock:
            with self.lock:
                self._sent[envelope_id] = _Sent(frame, time.monotonic(), peer.number)
            peer.send(frame)
        return envelope_id

    def _ack_after_send(self, envelope_id: str) -> Ack | None:
        sent = self._sent.get(envelope_id)
        for ack in self._acks.get(envelope_id, []):
            if sent is None or ack.received_at >= sent.sent_at:
                return ack
        return None

    def wait_ack(self, envelope_id: str, timeout: float = PATIENCE) -> JSONDict:
        """The app's answer to the envelope ({envelope_id, payload?}), waiting for it."""
        with self._cond:
            ack: Ack = _wait(
                self._cond,
                lambda: self._ack_after_send(envelope_id),
                timeout,
                f"no ack for envelope {envelope_id} within {timeout}s",
            )
            return copy.deepcopy(ack.message)

    def ack(self, envelope_id: str) -> Ack | None:
        """The ack received for the envelope's latest sending, if any (no waiting)."""
        with self.lock:
            return self._ack_after_send(envelope_id)

    def acks(self, envelope_id: str) -> list[Ack]:
        """Every ack received for the envelope id (duplicates included)."""
        with self.lock:
            return list(self._acks.get(envelope_id, []))

    def ack_latency(self, envelope_id: str) -> float:
        """Seconds from sending the envelope to receiving its ack."""
        with self.lock:
            sent = self._sent.get(envelope_id)
            ack = self._ack_after_send(envelope_id)
        if sent is None:
            raise KeyError(f"envelope {envelope_id} was never sent")
        if ack is None:
            raise KeyError(f"envelope {envelope_id} has no ack yet")
        return ack.received_at - sent.sent_at

    def send_disconnect(self, reason: str = "refresh_requested", *, timeout: float = 5.0) -> int:
        """Send a `disconnect` frame to every open connection; return how many got it."""
        self._newest_peer(timeout)
        frame = copy.deepcopy(self.disconnect_template)
        frame["reason"] = reason
        with self.lock:
            peers = list(self._peers)
        for peer in peers:
            with peer.send_lock, contextlib.suppress(ConnectionClosed):
                peer.send(frame)
        return len(peers)

    def send_raw(self, text: str, *, timeout: float = 5.0) -> None:
        """Send any text frame to the newest connection."""
        peer = self._newest_peer(timeout)
        with peer.send_lock:
            peer.ws.send(text)

    def close_connections(self, code: int = 1001, reason: str = "") -> None:
        """Close every open connection with a WebSocket close frame."""
        with self.lock:
            peers = list(self._peers)
        for peer in peers:
            peer.ws.close(code, reason)

    # ------------------------------------------------------------------ server side

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        ticket = dict(parse_qsl(url.query)).get("ticket", "")
        reason = ""
        status = HTTPStatus.OK
        if url.path.rstrip("/") != "/link":
            reason, status = "unknown path", HTTPStatus.NOT_FOUND
        else:
            with self.lock:
                if ticket not in self._tickets:
                    reason, status = "unknown ticket", HTTPStatus.UNAUTHORIZED
        if not reason:
            return None
        with self._cond:
            self.rejected.append((request.path, reason))
            self._cond.notify_all()
        return connection.respond(status, reason + "\n")

    def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        with self._cond:
            self._total += 1
            peer = _Peer(self._total, ws, ws.request.path, time.monotonic())
            # Hold the peer's send lock until hello is out: nothing may overtake it.
            peer.send_lock.acquire()
            self._peers.append(peer)
            hello = copy.deepcopy(self.hello)
            hello["num_connections"] = len(self._peers)
            self._cond.notify_all()
        try:
            try:
                peer.send(hello)
            finally:
                peer.send_lock.release()
            for message in ws:
                self._on_message(peer, message)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._peers.remove(peer)
                self._cond.notify_all()

    def _on_message(self, peer: _Peer, message: str | bytes) -> None:
        now = time.monotonic()
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        with self._cond:
            if isinstance(parsed, dict) and isinstance(parsed.get("envelope_id"), str):
                ack = Ack(parsed["envelope_id"], parsed, now, peer.number)
                self._acks.setdefault(ack.envelope_id, []).append(ack)
            else:
                self.received.append((now, parsed if isinstance(parsed, dict) else {"raw": text}))
            self._cond.notify_all()


# ======================================================================================
# Both together, and payload builders
# ======================================================================================

_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
# element type → (state field, initial field) for the pickers whose value is a plain id/string
_PICKERS = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}


def _elements(block: Mapping[str, Any]) -> list[JSONDict]:
    if block.get("type") == "input" and isinstance(block.get("element"), dict):
        return [block["element"]]
    if isinstance(block.get("accessory"), dict):
        return [block["accessory"]]
    if block.get("type") == "actions":
        return [e for e in block.get("elements", []) if isinstance(e, dict)]
    return []


def _find_element(
    blocks: Iterable[Mapping[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[str | None, JSONDict | None]:
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in _elements(block):
            if element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def _option(element: Mapping[str, Any], value: Any) -> JSONDict:
    if isinstance(value, dict):
        return dict(value)
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    for option in options:
        if option.get("value") == value:
            return copy.deepcopy(option)
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(value)}, "value": value}
    raise ValueError(
        f"{value!r} is not an option of {element.get('action_id')!r}: {[o.get('value') for o in options]}"
    )


def state_value(element: Mapping[str, Any] | None, value: Any) -> JSONDict:
    """The state.values entry Slack reports for `element` holding `value`.

    A dict `value` is taken as the entry itself (its `type` filled from the element if missing).
    Otherwise the value is shaped by the element's type: text inputs get `value`, selects the
    matching `selected_option(s)` from the element's options, pickers `selected_*`, a
    rich_text_input given a str a one-section `rich_text_value`.
    """
    kind = (element or {}).get("type") or "plain_text_input"
    if isinstance(value, dict):
        return {"type": kind, **value}
    if kind in _SINGLE_OPTION:
        assert element is not None
        return {"type": kind, "selected_option": None if value is None else _option(element, value)}
    if kind in _MULTI_OPTION:
        assert element is not None
        return {"type": kind, "selected_options": [_option(element, v) for v in value or []]}
    if kind in _PICKERS:
        return {"type": kind, _PICKERS[kind][0]: value}
    if kind == "rich_text_input":
        rich = value
        if isinstance(value, str):
            rich = {
                "type": "rich_text",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": value}]}],
            }
        return {"type": kind, "rich_text_value": rich}
    return {"type": kind, "value": value}


def initial_state_value(element: Mapping[str, Any]) -> JSONDict:
    """The state.values entry of an input the user left as the bot prefilled it (or empty)."""
    kind = element.get("type") or "plain_text_input"
    if kind in _SINGLE_OPTION:
        return {"type": kind, "selected_option": copy.deepcopy(element.get("initial_option"))}
    if kind in _MULTI_OPTION:
        return {"type": kind, "selected_options": copy.deepcopy(element.get("initial_options", []))}
    if kind in _PICKERS:
        selected, initial = _PICKERS[kind]
        empty: Any = [] if kind.startswith("multi_") else None
        return {"type": kind, selected: copy.deepcopy(element.get(initial, empty))}
    if kind == "rich_text_input":
        return {"type": kind, "rich_text_value": copy.deepcopy(element.get("initial_value"))}
    return {"type": kind, "value": element.get("initial_value")}


def build_state_values(
    blocks: list[JSONDict], values: Mapping[str, Mapping[str, Any]], *, fill_inputs: bool = True
) -> JSONDict:
    """state.values from block_id → action_id → value (see `state_value`).

    Every block/action named must exist in `blocks`. With `fill_inputs`, input blocks not named
    report their initial value, as Slack does for inputs the user did not touch.
    """
    state: JSONDict = {}
    if fill_inputs:
        for block in blocks:
            if block.get("type") == "input" and block.get("block_id"):
                for element in _elements(block):
                    state.setdefault(block["block_id"], {})[element.get("action_id")] = initial_state_value(
                        element
                    )
    for block_id, actions in values.items():
        for action_id, value in actions.items():
            found_block, target = _find_element(blocks, action_id, block_id)
            if found_block is None or target is None:
                known = [(b.get("block_id"), e.get("action_id")) for b in blocks for e in _elements(b)]
                raise KeyError(f"no element {block_id}/{action_id} in the view; it has {known}")
            state.setdefault(block_id, {})[action_id] = state_value(target, value)
    return state


class FakeSlack:
    """The fake Web API and socket-mode server together, plus payload builders."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        users: Mapping[str, JSONDict] | None = None,
        channels: Mapping[str, JSONDict] | None = None,
        keepalive_interval: float | None = 0.25,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket = FakeSocketModeServer(keepalive_interval=keepalive_interval)
        self.web = FakeSlackWebAPI(
            bot_token=bot_token,
            app_token=app_token,
            scopes=scopes,
            users=users,
            channels=channels,
            socket_url=self.socket.new_url,
        )

    def start(self) -> FakeSlack:
        self.socket.start()
        try:
            self.web.start()
        except BaseException:
            self.socket.close()
            raise
        return self

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.web.close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def api_url(self) -> str:
        return self.web.api_url

    # ------------------------------------------------------------------ payload parts

    def _user(self, user: str | Mapping[str, Any] | None, default: str = "U0CSM0002") -> JSONDict:
        if isinstance(user, Mapping):
            return dict(user)
        user_id = user or default
        known = self.web.users.get(user_id, {})
        name = known.get("name", user_id.lower())
        return {
            "id": user_id,
            "username": name,
            "name": name,
            "team_id": known.get("team_id", TEAM_ID),
        }

    def _channel(self, channel: str | Mapping[str, Any] | None) -> JSONDict:
        if isinstance(channel, Mapping):
            return dict(channel)
        channel_id = channel or "C0FEEDBACK"
        known = self.web.channels.get(channel_id, {})
        return {"id": channel_id, "name": known.get("name") or "directmessage"}

    def _resolve_view(self, view: Mapping[str, Any] | str) -> JSONDict:
        view_id = view if isinstance(view, str) else view.get("id")
        with self.web.lock:
            stored = self.web.views.get(view_id) if isinstance(view_id, str) else None
            if stored is not None:
                return copy.deepcopy(stored)
        if isinstance(view, str):
            raise LookupError(f"the bot never opened view {view!r}")
        return copy.deepcopy(dict(view))

    # ------------------------------------------------------------------ payload builders

    def message_shortcut_payload(
        self,
        callback_id: str,
        *,
        message: Mapping[str, Any] | None = None,
        channel: str | Mapping[str, Any] | None = None,
        user: str | Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
    ) -> JSONDict:
        """A `message_action` payload (message shortcut) from the fixture.

        `message` replaces the fixture's message; `channel`/`user` are ids (names looked up in the
        fake's channels/users) or whole objects.
        """
        payload: JSONDict = load_fixture("message_shortcut")
        payload["callback_id"] = callback_id
        payload["trigger_id"] = trigger_id or _new_trigger_id()
        payload["action_ts"] = _now_ts()
        payload["response_url"] = self.web.new_response_url("app")
        if message is not None:
            payload["message"] = copy.deepcopy(dict(message))
        payload["message_ts"] = payload["message"].get("ts", payload["message_ts"])
        if channel is not None:
            payload["channel"] = self._channel(channel)
        if user is not None:
            payload["user"] = self._user(user)
        return payload

    def global_shortcut_payload(
        self,
        callback_id: str,
        *,
        user: str | Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
    ) -> JSONDict:
        payload: JSONDict = load_fixture("global_shortcut")
        payload["callback_id"] = callback_id
        payload["trigger_id"] = trigger_id or _new_trigger_id()
        payload["action_ts"] = _now_ts()
        if user is not None:
            payload["user"] = self._user(user)
        return payload

    def slash_command_payload(
        self,
        command: str = "/feedback",
        text: str = "",
        *,
        channel_id: str = "C0FEEDBACK",
        user_id: str = "U0CSM0002",
        trigger_id: str | None = None,
    ) -> JSONDict:
        """A slash command's fields as the socket-mode payload carries them (all strings)."""
        payload: JSONDict = load_fixture("slash_command")
        channel = self._channel(channel_id)
        user = self._user(user_id)
        payload.update(
            command=command,
            text=text,
            channel_id=channel_id,
            channel_name=channel["name"],
            user_id=user_id,
            user_name=user["name"],
            trigger_id=trigger_id or _new_trigger_id(),
            response_url=self.web.new_response_url("commands"),
        )
        return payload

    def view_submission_payload(
        self,
        view: Mapping[str, Any] | str,
        values: Mapping[str, Mapping[str, Any]],
        *,
        user: str | Mapping[str, Any] | None = None,
        fill_inputs: bool = True,
        trigger_id: str | None = None,
    ) -> JSONDict:
        """A `view_submission` for a view the bot opened (a view id, or a view with an `id`).

        The view's latest stored state (id, hash, callback_id, private_metadata, blocks…) is used;
        a view dict the fake never saw is used as given. `values` is block_id → action_id →
        value, shaped by `state_value`; untouched input blocks report their initial values.
        """
        resolved = self._resolve_view(view)
        resolved["state"] = {
            "values": build_state_values(resolved.get("blocks", []), values, fill_inputs=fill_inputs)
        }
        payload: JSONDict = load_fixture("view_submission")
        payload["view"] = resolved
        payload["trigger_id"] = trigger_id or _new_trigger_id()
        if user is not None:
            payload["user"] = self._user(user)
        return payload

    def block_suggestion_payload(
        self,
        action_id: str,
        value: str = "",
        *,
        view: Mapping[str, Any] | str | None = None,
        block_id: str | None = None,
        user: str | Mapping[str, Any] | None = None,
    ) -> JSONDict:
        """A `block_suggestion` (an external select asking for its options as the person types),
        from the fixture; `view` is the modal it is in (the fixture's when None)."""
        payload: JSONDict = copy.deepcopy(load_fixture("block_suggestion")["envelope"]["payload"])
        payload["action_id"] = action_id
        payload["value"] = value
        if view is not None:
            resolved = self._resolve_view(view)
            payload["view"] = resolved
            payload["container"] = {"type": "view", "view_id": resolved.get("id")}
            found_block, _ = _find_element(resolved.get("blocks") or [], action_id)
            payload["block_id"] = block_id or found_block or action_id
        else:
            payload["block_id"] = block_id or action_id
        if user is not None:
            payload["user"] = self._user(user)
        return payload

    def block_actions_payload(
        self,
        action_id: str,
        *,
        value: Any = None,
        block_id: str | None = None,
        view: Mapping[str, Any] | str | None = None,
        message: Mapping[str, Any] | None = None,
        channel: str | Mapping[str, Any] | None = None,
        user: str | Mapping[str, Any] | None = None,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        trigger_id: str | None = None,
    ) -> JSONDict:
        """A `block_actions` payload: an element clicked/changed in a view or in a message.

        The element is looked up by action_id (and block_id) in the view's or message's blocks;
        a button reports its own `value` unless `value` is given; selects and pickers get
        `value` shaped as in state.values. `values` sets the view's state (as in submissions).
        """
        if (view is None) == (message is None):
            raise ValueError("give exactly one of view= or message=")
        user_obj = self._user(user)
        resolved_view = self._resolve_view(view) if view is not None else None
        blocks = (resolved_view or message or {}).get("blocks") or []
        found_block, element = _find_element(blocks, action_id, block_id)
        kind = (element or {}).get("type", "button")
        action: JSONDict = {
            "action_id": action_id,
            "block_id": found_block or block_id or secrets.token_hex(2),
            "type": kind,
            "action_ts": _now_ts(),
        }
        if kind == "button":
            if element is not None and "text" in element:
                action["text"] = copy.deepcopy(element["text"])
            action["value"] = value if value is not None else (element or {}).get("value")
        else:
            action.update(state_value(element, value))
        payload: JSONDict = {
            "type": "block_actions",
            "user": user_obj,
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "trigger_id": trigger_id or _new_trigger_id(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if resolved_view is not None:
            resolved_view["state"] = {
                "values": build_state_values(resolved_view.get("blocks", []), values or {})
            }
            payload["container"] = {"type": "view", "view_id": resolved_view.get("id")}
            payload["view"] = resolved_view
        else:
            assert message is not None
            channel_obj = self._channel(channel)
            payload["container"] = {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel_obj["id"],
                "is_ephemeral": False,
            }
            payload["channel"] = channel_obj
            payload["message"] = copy.deepcopy(dict(message))
            payload["state"] = {"values": {}}
            payload["response_url"] = self.web.new_response_url("actions")
        return payload

    def reaction_added_payload(
        self,
        ts: str,
        *,
        channel: str = "C0FEEDBACK",
        user: str = "U0CSM0002",
        reaction: str = "inbox_tray",
        item_user: str | None = "U0CUST0003",
        event_id: str | None = None,
    ) -> JSONDict:
        """A `reaction_added` event_callback (from the fixture), for a message at channel/ts."""
        envelope = load_fixture("socket_mode_envelopes")["events_api"]
        event: JSONDict = copy.deepcopy(envelope["payload"]["event"])
        event.update(
            user=user,
            reaction=reaction,
            item={"type": "message", "channel": channel, "ts": ts},
            event_ts=_now_ts(),
        )
        if item_user is None:
            event.pop("item_user", None)
        else:
            event["item_user"] = item_user
        return self.events_api_payload(event, event_id=event_id)

    def message_event_payload(self, name: str = "top_level_by_person", **changes: Any) -> JSONDict:
        """A `message` event as a bot subscribed to `message.*` receives it (the payload of an
        events_api envelope), from the fixture ``message_events.json``: ``name`` is one of its
        entries (top_level_by_person, thread_reply_by_person, reply_with_file, bot_message,
        own_reply, message_changed, message_deleted, channel_join); ``changes`` replace fields
        of the event. A fresh event id each time, as Slack gives each event."""
        event = dict(load_fixture("message_events")[name]["payload"]["event"])
        event.update(changes)
        return self.events_api_payload(event)

    def events_api_payload(self, event: Mapping[str, Any], *, event_id: str | None = None) -> JSONDict:
        """An `event_callback` wrapping `event` (the envelope's payload for events_api)."""
        payload: JSONDict = copy.deepcopy(load_fixture("socket_mode_envelopes")["events_api"]["payload"])
        payload["event"] = copy.deepcopy(dict(event))
        payload["event_id"] = event_id or f"Ev{secrets.token_hex(5).upper()}"
        payload["event_time"] = int(time.time())
        return payload

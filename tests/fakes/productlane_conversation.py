"""The conversation in the fake Productlane: comments on a thread, and the team's
replies sent from Productlane as ``message.sent`` webhooks.

Written from the reference notes, independently of `bot.conversation`:

* ``POST /threads/{id}/comments`` ``{content, attachments?}`` (scope ``comments:write``;
  client-claimed) → 201 ``{id, thread_id, content, created_at, author}``; an unknown thread is 404;
  an empty or missing ``content`` or an unknown key is 400.
* ``GET /threads/{id}/comments`` (scope ``threads:read``; UNSEEN, assumed) → the documented list
  shape ``{data, page: {cursor, has_more, limit}}``, newest first.

Switches: ``comments_status`` answers every comment request with that status instead (404: a
Productlane without comments, 405: the route exists for GET only); ``listing_status`` does the same
for the listing; a key without ``comments:write`` gets 403 ``scope_required``.
:meth:`ConversationFake.fail_after_store` stores the next comment, then answers an error or
drops the connection ("it was created, the answer never came"); :meth:`hold_after_store` stores it,
then waits before answering (a process killed meanwhile never hears).

The team's side: :meth:`ConversationFake.team_reply` (``message.sent``), :meth:`customer_message`
(``message.received``) and :meth:`internal_comment` (``comment.created``) go out as signed webhooks
through the fake's sender, to subscriptions whose patterns want them (``message.*``, ``comment.*``).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from tests.fakes.productlane import FakeProductlane, RecordedRequest, _Handler, _Reply

__all__ = ["ConversationFake"]

COMMENT_KEYS = frozenset({"content", "attachments"})
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(26))


@dataclass
class _AfterStore:
    kind: str  # "fail" | "drop" | "hold"
    remaining: int
    status: int = 500
    seconds: float = 0.0


class ConversationFake:
    """Comments and team messages of a `FakeProductlane` (``fake.conversation``)."""

    def __init__(self, fake: FakeProductlane) -> None:
        self._fake = fake
        self._lock = threading.RLock()
        self.comments_status: int | None = None
        self.listing_status: int | None = None
        self.comment_count = 0  # POST /threads/{id}/comments requests received
        self.listing_count = 0
        self._comments: list[dict[str, Any]] = []  # oldest first
        self._messages: list[dict[str, Any]] = []
        self._after_store: list[_AfterStore] = []

    # -- what happened

    def comments_on(self, thread_id: str) -> list[dict[str, Any]]:
        """The comments stored on a thread, oldest first."""
        with self._lock:
            return [dict(c) for c in self._comments if c["thread_id"] == thread_id]

    @property
    def comments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._comments]

    # -- faults

    def fail_after_store(self, status: int = 500, n: int = 1, *, drop: bool = False) -> None:
        """Store the next ``n`` comments, then answer ``status`` (or drop the connection)."""
        with self._lock:
            self._after_store.append(_AfterStore("drop" if drop else "fail", n, status=status))

    def hold_after_store(self, seconds: float, n: int = 1) -> None:
        """Store the next ``n`` comments, then wait ``seconds`` before answering."""
        with self._lock:
            self._after_store.append(_AfterStore("hold", n, seconds=seconds))

    def _take_after_store(self) -> _AfterStore | None:
        with self._lock:
            for fault in self._after_store:
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._after_store.remove(fault)
                    return fault
        return None

    # -- the routes (hooked into FakeProductlane._route)

    def route(self, h: _Handler, record: RecordedRequest, scopes: list[str]) -> tuple[bool, _Reply | None]:
        """(whether it is a comments route, its answer: None when the connection was already
        handled — dropped, or answered after a wait)."""
        parts = record.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "threads" or parts[2] != "comments":
            return False, None
        return True, self._answer(h, record, scopes, unquote(parts[1]))

    def _answer(
        self, h: _Handler, record: RecordedRequest, scopes: list[str], thread_id: str
    ) -> _Reply | None:
        fake = self._fake
        if record.method == "POST":
            with self._lock:
                self.comment_count += 1
            if self.comments_status is not None:
                return fake._error(self.comments_status, message="No route for this request.")
            return fake._scope(scopes, "comments:write") or self._create(h, record, thread_id)
        if record.method == "GET":
            with self._lock:
                self.listing_count += 1
            if self.listing_status is not None:
                return fake._error(self.listing_status, message="No route for this request.")
            return fake._scope(scopes, "threads:read") or self._list(record, thread_id)
        return fake._error(405, message="Method not allowed.")

    def _create(self, h: _Handler, record: RecordedRequest, thread_id: str) -> _Reply | None:
        fake = self._fake
        body = record.json
        if not isinstance(body, dict):
            return fake._error(400, details=[{"path": "", "message": "Expected object"}])
        problems = []
        unknown = sorted(set(body) - COMMENT_KEYS)
        if unknown:
            problems.append({"path": "", "message": f"Unrecognized key(s) in object: {unknown}"})
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            problems.append({"path": "content", "message": "Required"})
        if problems:
            return fake._error(400, details=problems)
        with fake._changed:
            if not any(t["id"] == thread_id for t in fake._threads):
                return fake._error(404, message="Thread not found.")
            comment = {
                "id": new_id("cm_"),
                "thread_id": thread_id,
                "content": content,
                "created_at": _iso(fake._wall()),
                "author": {"id": "usr_api", "name": "API", "email": None},
            }
            with self._lock:
                self._comments.append(comment)
            fake._changed.notify_all()
        fault = self._take_after_store()
        if fault is not None:
            if fault.kind == "hold":
                if fake._stopping.wait(fault.seconds):
                    fake._drop(h, record)
                    return None
            elif fault.kind == "drop":
                record.status = None
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return None
            else:
                return fake._error(fault.status)
        return fake._json(201, dict(comment))

    def _list(self, record: RecordedRequest, thread_id: str) -> _Reply:
        fake = self._fake
        query = {k: v[-1] for k, v in record.query.items()}
        try:
            limit = max(1, min(200, int(query.get("limit", "50"))))
            start = int(query.get("cursor", "0") or 0)
        except ValueError:
            return fake._error(400, details=[{"path": "cursor", "message": "Invalid"}])
        with self._lock:
            newest_first = [dict(c) for c in reversed(self._comments) if c["thread_id"] == thread_id]
        page = newest_first[start : start + limit]
        more = start + limit < len(newest_first)
        return fake._json(
            200,
            {
                "data": page,
                "page": {"cursor": str(start + limit) if more else None, "has_more": more, "limit": limit},
            },
        )

    # -- the team's side, as webhooks

    def team_reply(
        self,
        thread_id: str,
        html: str,
        *,
        author: str = "Anna Lindqvist",
        channel: str = "email",
        message_id: str | None = None,
        attachments: Iterable[dict[str, Any]] = (),
        emit: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """A team member replies to the contact from Productlane: ``message.sent``. ``channel`` is
        how Productlane delivered it (``slack`` when its own Slack integration posted it)."""
        message = {
            "id": message_id or new_id("msg_"),
            "thread_id": thread_id,
            "content": html,
            "channel": channel,
            "direction": "outbound",
            "author": {"id": "usr_anna", "name": author, "email": "anna@acme.example"},
            "attachments": list(attachments),
            "created_at": _iso(self._fake._wall()),
            **extra,
        }
        with self._lock:
            self._messages.append(message)
        if emit:
            self._fake.emit("message.sent", message)
        return message

    def customer_message(self, thread_id: str, html: str) -> dict[str, Any]:
        """The contact writes in (by email): ``message.received``."""
        message = {
            "id": new_id("msg_"),
            "thread_id": thread_id,
            "content": html,
            "channel": "email",
            "direction": "inbound",
            "created_at": _iso(self._fake._wall()),
        }
        self._fake.emit("message.received", message)
        return message

    def internal_comment(
        self, thread_id: str, html: str, *, author: str = "Anna Lindqvist"
    ) -> dict[str, Any]:
        """A team member's internal note: ``comment.created`` (never meant for the customer)."""
        comment = {
            "id": new_id("cm_"),
            "thread_id": thread_id,
            "content": html,
            "author": {"id": "usr_anna", "name": author},
            "created_at": _iso(self._fake._wall()),
        }
        with self._lock:
            self._comments.append(comment)
        self._fake.emit("comment.created", comment)
        return comment


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

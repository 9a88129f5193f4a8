"""Productlane events, read into the few changes the bot acts on. Pure: no I/O.

A webhook body is ``{"id": "evt_…", "type": "<event>", "created_at": "ISO", "data": {…}}``, where
``data`` is the resource's snapshot at the time of the event. The snapshots' full schemas are not
documented, so everything here reads defensively: a field that is missing or of the wrong type
counts as unknown, never as an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot import bounded_json

__all__ = [
    "HANDLED_EVENT_TYPES",
    "Change",
    "EventFormatError",
    "LinkAdded",
    "LinkRemoved",
    "MessageSent",
    "NeedLink",
    "TargetCompleted",
    "ThreadRemoved",
    "ThreadSnapshot",
    "WebhookEvent",
    "body_event_id",
    "change_of",
    "parse_event",
    "parse_time",
    "to_customer",
]

TargetKind = Literal["issue", "project"]

HANDLED_EVENT_TYPES = frozenset(
    {
        "thread.status_changed",
        "thread.updated",
        "thread.deleted",
        "customer_need.created",
        "customer_need.deleted",
        "issue.completed",
        "project.completed",
        # The team's replies to the contact, posted in Slack. `message.received` (the contact writing
        # in) and every `comment.*` (internal notes) are answered 200 and never reach Slack.
        "message.sent",
    }
)

THREAD_STATUSES = frozenset({"open", "snoozed", "done"})


class EventFormatError(ValueError):
    """The body is not a Productlane event (not JSON, not an object, no id or type)."""


class WebhookEvent(BaseModel):
    """The envelope of one event."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=64)
    created_at: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def body_event_id(raw_body: bytes) -> str:
    """The dedupe key of a signed body that carries no id: derived from the signed bytes themselves,
    so a retry of the same body is one event and different bodies are never merged."""
    return "sha256:" + hashlib.sha256(raw_body).hexdigest()


def parse_event(raw_body: bytes) -> WebhookEvent:
    """The event in a (verified) body. Its id is the body's own; a body without one is keyed by
    the SHA-256 of its signed bytes (`body_event_id`), never by ``Productlane-Event-Id``: headers
    are not signed, so anyone replaying a signed body could pick a header id that drops another
    event as a duplicate, or repeats this one. Raises `EventFormatError`."""
    try:
        body = bounded_json.loads(raw_body)
    except bounded_json.UnreadableJSON as error:
        raise EventFormatError(f"the body is {error}") from error
    if not isinstance(body, dict):
        raise EventFormatError("the body is not a JSON object")
    if not body.get("id"):
        body["id"] = body_event_id(raw_body)
    if "data" in body and not isinstance(body["data"], dict):
        body["data"] = {}  # null or a list: no snapshot to read
    try:
        return WebhookEvent.model_validate(body)
    except ValidationError as error:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        raise EventFormatError(f"the event is missing or has an unusable {fields or 'shape'}") from error


_TIME = TypeAdapter(datetime)


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime (naive counts as UTC); None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = _TIME.validate_python(value)
    except ValidationError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _name(data: Mapping[str, Any]) -> str | None:
    return _text(data.get("name")) or _text(data.get("title"))


# --- the changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedLink:
    """One customer need: a thread linked to an issue and/or a project."""

    need_id: str
    thread_id: str
    issue_id: str | None
    project_id: str | None
    issue_name: str | None = None
    project_name: str | None = None


@dataclass(frozen=True)
class ThreadSnapshot:
    """A thread as it is at ``as_of`` (its ``updated_at``): the status, and the links it carries
    (``needs`` is None when the snapshot does not list them)."""

    thread_id: str
    status: str | None
    as_of: datetime | None
    needs: tuple[NeedLink, ...] | None = None


@dataclass(frozen=True)
class ThreadRemoved:
    thread_id: str
    as_of: datetime | None


@dataclass(frozen=True)
class LinkAdded:
    need: NeedLink


@dataclass(frozen=True)
class LinkRemoved:
    need: NeedLink


@dataclass(frozen=True)
class TargetCompleted:
    kind: TargetKind
    target_id: str
    name: str | None


@dataclass(frozen=True)
class MessageSent:
    """A team member's reply to the contact, sent from Productlane (``message.sent``).

    The message resource is not documented beyond ``{id, thread_id, channel}`` (the answer to
    ``POST /threads/{id}/messages``), so each field is looked for where it plausibly is, and a
    message whose id or thread cannot be read is not one the bot acts on.
    """

    message_id: str
    thread_id: str
    html: str
    author: str | None
    attachments: tuple[tuple[str, str], ...]
    """(url, name) of each file the reply carries."""
    created_at: datetime | None
    relayed_to_slack: bool
    """Productlane itself delivered it into Slack (its own Slack integration): not posted again."""
    internal: bool
    """Marked internal (a note, not a reply to the contact): never shown in Slack."""
    to_customer: bool = False
    """Productlane's data says, in so many words, that it went to the customer (`to_customer`):
    only such a reply is posted in a channel shared with another organization."""
    skip: str | None = None
    """Why it must not be posted, found out beyond the event (the bot wrote it; the channel turned
    replies off); set by the worker before deciding."""


Change = ThreadSnapshot | ThreadRemoved | LinkAdded | LinkRemoved | TargetCompleted | MessageSent


def _need(data: Mapping[str, Any], thread_id: str | None = None) -> NeedLink | None:
    need_id = _text(data.get("id"))
    thread = _text(data.get("thread_id")) or thread_id
    issue_id, project_id = _text(data.get("issue_id")), _text(data.get("project_id"))
    # Some shapes nest the target: {"issue": {"id", "name"}}.
    issue, project = data.get("issue"), data.get("project")
    issue_name = project_name = None
    if isinstance(issue, Mapping):
        issue_id = issue_id or _text(issue.get("id"))
        issue_name = _name(issue)
    if isinstance(project, Mapping):
        project_id = project_id or _text(project.get("id"))
        project_name = _name(project)
    if need_id is None or thread is None or (issue_id is None and project_id is None):
        return None
    return NeedLink(need_id, thread, issue_id, project_id, issue_name, project_name)


def snapshot_of_thread(
    data: Mapping[str, Any], fallback_time: datetime | None = None
) -> ThreadSnapshot | None:
    """A thread resource (webhook data, or a `GET /threads/{id}` answer) as a snapshot."""
    thread_id = _text(data.get("id"))
    if thread_id is None:
        return None
    status = _text(data.get("status"))
    needs: tuple[NeedLink, ...] | None = None
    raw_needs = data.get("customer_needs")
    if isinstance(raw_needs, list):
        found = (_need(n, thread_id) for n in raw_needs if isinstance(n, Mapping))
        needs = tuple(n for n in found if n is not None)
    return ThreadSnapshot(
        thread_id=thread_id,
        status=status if status in THREAD_STATUSES else None,
        as_of=parse_time(data.get("updated_at")) or fallback_time,
        needs=needs,
    )


# The message-level fields that say which channel Productlane delivered a message through. Only
# these are trusted to mean "Productlane posted it in Slack itself": the thread's own `origin` is
# `slack` for every thread the bot files, so it says nothing about a message.
_CHANNEL_FIELDS = ("channel", "delivery_channel", "sent_via", "via")
_SLACK_CHANNELS = frozenset({"slack", "slack_connect"})
# Fields that hold a Slack message of the reply's own: Productlane posted it there.
_SLACK_MESSAGE_FIELDS = ("slack_ts", "slack_message_ts", "slack_message_id", "slack_permalink")
_AUTHOR_FIELDS = ("author", "user", "member", "sender", "from", "created_by")
_HTML_FIELDS = ("content", "html", "body_html", "text", "body")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _person_name(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None  # a bare string is as likely an id as a name
    name = _text(value.get("name")) or _text(value.get("display_name"))
    parts = (_text(value.get("first_name")), _text(value.get("last_name")))
    return name or " ".join(part for part in parts if part) or None


def _author(data: Mapping[str, Any]) -> str | None:
    for key in _AUTHOR_FIELDS:
        name = _person_name(data.get(key))
        if name:
            return name
    return _text(data.get("author_name")) or _text(data.get("user_name"))


def _attachments(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    raw = data.get("attachments") or data.get("files")
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str) and _text(item):
            found.append((item, ""))
            continue
        if not isinstance(item, Mapping):
            continue
        url = _text(item.get("url")) or _text(item.get("file_url")) or _text(item.get("cdn_url"))
        if url:
            name = _text(item.get("name")) or _text(item.get("file_name")) or _text(item.get("filename"))
            found.append((url, name or ""))
    return tuple(found)


def _message_sent(data: Mapping[str, Any], when: datetime | None) -> MessageSent | None:
    message_id = _text(data.get("id"))
    thread_id = _text(data.get("thread_id")) or _text(_mapping(data.get("thread")).get("id"))
    if message_id is None or thread_id is None:
        return None
    html = next((value for key in _HTML_FIELDS if (value := _text(data.get(key)))), "")
    channels = {str(data.get(key)).strip().lower() for key in _CHANNEL_FIELDS if _text(data.get(key))}
    relayed = bool(channels & _SLACK_CHANNELS) or any(_text(data.get(key)) for key in _SLACK_MESSAGE_FIELDS)
    kind = (_text(data.get("type")) or _text(data.get("kind")) or "").lower()
    internal = data.get("internal") is True or data.get("is_internal") is True or kind in ("comment", "note")
    return MessageSent(
        message_id=message_id,
        thread_id=thread_id,
        html=html,
        author=_author(data),
        attachments=_attachments(data),
        created_at=parse_time(data.get("created_at")) or when,
        relayed_to_slack=relayed,
        internal=internal,
        to_customer=not internal and to_customer(data),
    )


# What says that a message went out to the customer. The message resource is not documented
# beyond {id, thread_id, channel}: only an explicit word counts, never the absence of "internal".
_OUTWARD_DIRECTIONS = frozenset({"outbound", "outgoing", "to_customer"})
_CUSTOMER_VISIBILITY = frozenset({"public", "customer", "external"})
_TO_CUSTOMER_FLAGS = ("sent_to_customer", "to_customer", "customer_visible", "is_public")


def to_customer(data: Mapping[str, Any]) -> bool:
    """Whether a message resource says it was sent to the customer: ``direction: outbound``,
    ``visibility: public``, or a flag such as ``sent_to_customer: true``. Pure."""
    direction = (_text(data.get("direction")) or "").strip().lower()
    visibility = (_text(data.get("visibility")) or "").strip().lower()
    return (
        direction in _OUTWARD_DIRECTIONS
        or visibility in _CUSTOMER_VISIBILITY
        or any(data.get(flag) is True for flag in _TO_CUSTOMER_FLAGS)
    )


def change_of(event: WebhookEvent) -> Change | None:
    """What the event changes for the bot, or None (not an event it acts on, or unusable data)."""
    data = event.data
    when = event.created_at.astimezone(UTC) if event.created_at and event.created_at.tzinfo else None
    if event.type in ("thread.status_changed", "thread.updated"):
        return snapshot_of_thread(data, when)
    if event.type == "thread.deleted":
        thread_id = _text(data.get("id"))
        return (
            None
            if thread_id is None
            else ThreadRemoved(thread_id, parse_time(data.get("updated_at")) or when)
        )
    if event.type in ("customer_need.created", "customer_need.deleted"):
        need = _need(data)
        if need is None:
            return None
        return LinkAdded(need) if event.type == "customer_need.created" else LinkRemoved(need)
    if event.type in ("issue.completed", "project.completed"):
        target_id = _text(data.get("id"))
        if target_id is None:
            return None
        kind: TargetKind = "issue" if event.type == "issue.completed" else "project"
        return TargetCompleted(kind, target_id, _name(data))
    if event.type == "message.sent":
        return _message_sent(data, when)
    return None

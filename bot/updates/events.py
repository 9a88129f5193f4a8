"""Productlane events, read into the few changes the bot acts on. Pure: no I/O.

A webhook body is ``{"id": "evt_…", "type": "<event>", "created_at": "ISO", "data": {…}}``, where
``data`` is the resource's snapshot at the time of the event. The snapshots' full schemas are not
documented, so everything here reads defensively: a field that is missing or of the wrong type
counts as unknown, never as an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "HANDLED_EVENT_TYPES",
    "Change",
    "EventFormatError",
    "LinkAdded",
    "LinkRemoved",
    "NeedLink",
    "TargetCompleted",
    "ThreadRemoved",
    "ThreadSnapshot",
    "WebhookEvent",
    "change_of",
    "parse_event",
    "parse_time",
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


def parse_event(raw_body: bytes, header_event_id: str | None = None) -> WebhookEvent:
    """The event in a (verified) body. The id is the body's (it is signed; the header is not),
    else ``Productlane-Event-Id``. Raises `EventFormatError`."""
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as error:
        raise EventFormatError("the body is not JSON") from error
    if not isinstance(body, dict):
        raise EventFormatError("the body is not a JSON object")
    if not body.get("id") and header_event_id:
        body["id"] = header_event_id
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


Change = ThreadSnapshot | ThreadRemoved | LinkAdded | LinkRemoved | TargetCompleted


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
    return None

"""The updates' rows as their store hands them out: events, effects, and a thread's Slack side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bot.slack.replies import Confirmation
from bot.updates.state import Link, Status

__all__ = [
    "NewEvent",
    "SlackSide",
    "StoredEffect",
    "StoredEvent",
    "ThreadFacts",
    "confirmation_of",
    "link_of",
]


@dataclass(frozen=True)
class NewEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    id: int
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int


# The kinds of a team's reply: one Productlane said went to the customer, and one it did not say
# that of (posted only in a channel known to be internal). Both keep one thread's replies in order.
REPLY = "reply"
REPLY_UNSURE = "reply_unsure"
REPLY_KINDS = (REPLY, REPLY_UNSURE)


@dataclass(frozen=True)
class StoredEffect:
    id: int
    effect_key: str
    thread_id: str
    kind: str  # "edit" | "post" | one of REPLY_KINDS
    text: str | None
    generation: int
    attempts: int


@dataclass(frozen=True)
class SlackSide:
    """Everything needed to update Slack about one thread, read at send time."""

    thread_id: str
    channel_id: str
    thread_ts: str | None
    reply_channel_id: str | None
    reply_ts: str | None
    is_slack_connect: bool
    confirmation: Confirmation
    status: Status
    links: tuple[Link, ...]
    confirmation_forgotten: bool = False
    """Its words went with the purged submission (retention): the reply is no longer edited."""


@dataclass(frozen=True)
class ThreadFacts:
    """A thread's status and live links as the updates last heard them (what a submitter's Home
    shows of it)."""

    status: Status | None
    """None when the thread is not remembered (or its status is not one the bot knows)."""
    links: tuple[Link, ...] = ()


def confirmation_of(value: Any) -> Confirmation:
    """The confirmation as `remember` stored it (`dataclasses.asdict`): every field, so the reply
    rendered again with its status keeps its notes, its Edit details button and its editor."""
    data = value if isinstance(value, Mapping) else {}

    def text_or_none(name: str) -> str | None:
        found = data.get(name)
        return found if isinstance(found, str) and found else None

    notes = data.get("notes")
    return Confirmation(
        thread_url=str(data.get("thread_url") or ""),
        title=str(data.get("title") or ""),
        pain_label=str(data.get("pain_label") or ""),
        contact=text_or_none("contact"),
        submitter_id=str(data.get("submitter_id") or ""),
        notes=tuple(str(note) for note in notes) if isinstance(notes, list) else (),
        edit_value=text_or_none("edit_value"),
        edited_by=text_or_none("edited_by"),
        triage=tuple(str(part) for part in triage) if isinstance(triage := data.get("triage"), list) else (),
        linked=text_or_none("linked"),
    )


def link_of(row: sa.Row[Any]) -> Link:
    m = row._mapping
    return Link(
        need_id=m["need_id"],
        issue_id=m["issue_id"],
        project_id=m["project_id"],
        issue_name=m["issue_name"],
        project_name=m["project_name"],
        removed=bool(m["removed"]),
        completed=bool(m["completed"]),
    )

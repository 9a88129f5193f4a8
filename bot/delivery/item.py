"""An outbox item as its store hands it out: its `Status`, its fields, and the keys of items sent in
order (see `bot.delivery.outbox` for the life of an item)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from bot.delivery.schema import IN_ORDER, POSITION_CHARS, items

__all__ = [
    "IN_ORDER",
    "POSITION_CHARS",
    "AddResult",
    "OutboxItem",
    "Status",
    "in_order_key",
    "in_status",
    "item_of",
]


class Status(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    """Replaced by an edited copy ("Edit and resend"); stored as failed + ``superseded_by``."""


class AddResult(NamedTuple):
    id: int
    created: bool
    """False when an item with the same dedupe_key already existed (its id is returned)."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    dedupe_key: str
    kind: str
    payload: dict[str, Any]
    status: Status
    attempts: int
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    first_sent_at: datetime | None
    """When the first send attempt began; set means a thread may exist even if no reply came."""
    last_error: str | None
    result: dict[str, Any] | None
    """What delivery produced: ``thread_id`` and ``url`` once the thread exists, ``reply`` once the
    submitter was told (where the message landed). A pending item with a result only needs its reply."""
    delayed_notice_sent: bool
    superseded_by: int | None = None
    submitter_id: str | None = None


def in_order_key(queue: str, position: str) -> str:
    """The dedupe key of an item sent in order within ``queue`` (see `bot.delivery.outbox`).
    ``position``: `POSITION_CHARS` characters that sort as the items must go, e.g. a Slack ts."""
    if len(position) != POSITION_CHARS or not queue or ":" in queue:
        raise ValueError(
            f"an in-order key needs a queue without ':' and a {POSITION_CHARS}-character position"
        )
    return f"{IN_ORDER}{queue}:{position}"


def item_of(row: sa.Row[Any]) -> OutboxItem:
    m = row._mapping
    superseded_by = m["superseded_by"]
    return OutboxItem(
        id=int(m["id"]),
        dedupe_key=m["dedupe_key"],
        kind=m["kind"],
        payload=m["payload"],
        status=Status.SUPERSEDED if superseded_by is not None else Status(m["status"]),
        attempts=int(m["attempts"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        next_attempt_at=m["next_attempt_at"],
        lease_owner=m["lease_owner"],
        lease_until=m["lease_until"],
        first_sent_at=m["first_sent_at"],
        last_error=m["last_error"],
        result=m["result"],
        delayed_notice_sent=bool(m["delayed_notice_sent"]),
        superseded_by=None if superseded_by is None else int(superseded_by),
        submitter_id=m["submitter_id"],
    )


def in_status(status: Status | str) -> sa.ColumnElement[bool]:
    """Rows whose reported `Status` is ``status`` (superseded is failed + superseded_by)."""
    wanted = Status(status)
    if wanted is Status.SUPERSEDED:
        return items.c.superseded_by.is_not(None)
    if wanted is Status.FAILED:
        return sa.and_(items.c.status == Status.FAILED.value, items.c.superseded_by.is_(None))
    return items.c.status == wanted.value

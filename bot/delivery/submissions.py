"""What delivery tells other features about the submissions it holds, each read an index range of the
items: a person's latest (their App Home lists them), how many go before one that waits, and whether
new feedback waits for Productlane's write budget (follow-ups make way for it).

The outbox itself knows nothing of what an item holds; this module knows the submissions' kinds and
payloads, and what the delivery worker's last error says about a wait, so no other feature reads
the items' columns or parses the worker's words.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.delivery.intake import KIND, UPDATE_KIND
from bot.delivery.outbox import Outbox, Status
from bot.delivery.schema import items

__all__ = ["RATE_LIMIT_ERRORS", "SLACK_ERRORS", "Delay", "Submissions", "SubmittedItem", "delay_of"]

RATE_LIMIT_ERRORS = ("rate_limited", "waiting for rate limit")
"""How the delivery worker's last error starts while an item waits for Productlane's write budget."""
SLACK_ERRORS = "Slack"
"""How it starts when Slack could not answer (the item's files, its thread)."""


class Delay(enum.Enum):
    """Why an item waits for its next attempt, as the delivery worker's last error tells."""

    WRITE_BUDGET = "write_budget"
    """Productlane's write budget: a wait, not a failure of anyone's."""
    SLACK = "slack"
    """Slack could not answer."""
    TROUBLE = "trouble"
    """Anything else: Productlane unreachable or answering with an error."""


def delay_of(last_error: str | None) -> Delay | None:
    """The delivery worker's last error in a word; None when it recorded none."""
    if not last_error:
        return None
    if last_error.startswith(RATE_LIMIT_ERRORS):
        return Delay.WRITE_BUDGET
    if last_error.startswith(SLACK_ERRORS):
        return Delay.SLACK
    return Delay.TROUBLE


@dataclass(frozen=True, slots=True)
class SubmittedItem:
    """One of a person's submissions as delivery holds it, with the few fields of its payload a list
    of them shows."""

    item_id: int
    status: Status
    last_error: str | None
    next_attempt_at: datetime
    submitted_at: datetime
    """As the submission says; when the item was added if it does not say."""
    title: str | None
    channel_id: str | None
    """Where it was filed from (or confirmed, for a form opened elsewhere)."""
    thread_id: str | None
    """Productlane's thread, once it exists."""
    thread_url: str
    thread_status: str | None
    """The thread's status when it was created."""

    @property
    def delay(self) -> Delay | None:
        return delay_of(self.last_error)


def _parse_time(text: str | None, fallback: datetime) -> datetime:
    if not text:
        return fallback
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else fallback


def _thread_id(result: Mapping[str, Any]) -> str | None:
    return str(result["thread_id"]) if result.get("thread_id") else None


class Submissions:
    """Delivery's answers about the submissions in ``outbox``. Safe to share between threads."""

    def __init__(self, outbox: Outbox) -> None:
        self._db = outbox.database
        payload = items.c.payload
        # Only the few fields shown are taken out of each payload, by the database's own JSON
        # functions: a payload holds the whole message.
        self._latest = (
            sa.select(
                items.c.id,
                items.c.status,
                items.c.last_error,
                items.c.next_attempt_at,
                items.c.created_at,
                items.c.result,
                payload[("form", "title")].as_string(),
                sa.func.coalesce(
                    payload[("source", "channel_id")].as_string(), payload["confirm_channel_id"].as_string()
                ),
                payload["submitted_at"].as_string(),
            )
            .where(
                items.c.submitter_id == sa.bindparam("submitter_id"),
                items.c.kind == KIND,
                # Replaced by its edited copy ("Edit and resend"): the copy is listed instead.
                items.c.superseded_by.is_(None),
            )
            .order_by(items.c.id.desc())
            .limit(sa.bindparam("limit"))
        )

    def latest(self, submitter_id: str, limit: int) -> list[SubmittedItem]:
        """``submitter_id``'s last ``limit`` submissions, newest first: a range of the
        ``(submitter_id, id)`` index, however many items others have."""
        with self._db.reading() as conn:
            rows = conn.execute(self._latest, {"submitter_id": submitter_id, "limit": limit}).all()
        found = []
        for row in rows:
            result: Mapping[str, Any] = row.result if isinstance(row.result, Mapping) else {}
            title, channel_id, submitted_at = row[6], row[7], row[8]
            status = result.get("status")
            found.append(
                SubmittedItem(
                    item_id=int(row.id),
                    status=Status(row.status),
                    last_error=row.last_error,
                    next_attempt_at=row.next_attempt_at,
                    submitted_at=_parse_time(submitted_at, row.created_at),
                    title=title,
                    channel_id=str(channel_id) if channel_id else None,
                    thread_id=_thread_id(result),
                    thread_url=str(result.get("url") or ""),
                    thread_status=str(status) if status else None,
                )
            )
        return found

    def ahead_of(self, submission: SubmittedItem) -> int:
        """Submissions to be sent before this one: those being sent, and those due earlier (the order
        the worker claims in). Two ranges of the (status, next_attempt_at) index."""
        earlier = sa.or_(
            items.c.next_attempt_at < submission.next_attempt_at,
            sa.and_(items.c.next_attempt_at == submission.next_attempt_at, items.c.id < submission.item_id),
        )
        query = sa.select(
            sa.select(sa.func.count())
            .select_from(items)
            .where(items.c.status == Status.PENDING.value, earlier, items.c.kind == KIND)
            .scalar_subquery(),
            sa.select(sa.func.count())
            .select_from(items)
            .where(items.c.status == Status.SENDING.value)
            .scalar_subquery(),
        )
        with self._db.reading() as conn:
            pending, sending = conn.execute(query).one()
        return int(pending) + int(sending)

    def new_feedback_waiting(self, *, now: datetime | None = None) -> bool:
        """Whether a submission needs Productlane's write budget now (one indexed read)."""
        at = self._db.now(now)
        # Still to be created (no result yet): due now, or claimed by a sender and on its way
        # (its files uploading, its slot being waited for). "Edit details" changes count too:
        # a person is waiting for them. A confirmation still to post needs no write.
        query = (
            sa.select(items.c.id)
            .where(
                sa.or_(
                    sa.and_(items.c.status == "pending", items.c.next_attempt_at <= at),
                    items.c.status == "sending",
                ),
                items.c.kind.in_((KIND, UPDATE_KIND)),
                items.c.result.is_(None),
            )
            .limit(1)
        )
        with self._db.reading() as conn:
            return conn.execute(query).first() is not None

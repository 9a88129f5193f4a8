"""Reading what a person's Home shows from the shared database, fast enough for a Home that opens at
once with 100,000 items from 1,000 people stored: their last 20 submissions come by the
``(submitter_id, id)`` index, with only the few fields shown taken out of each payload by the
database's own JSON functions (a payload holds the whole message); then their threads' status and
links from the updates' tables, by key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.budgets.schema import key_problems
from bot.delivery.intake import KIND
from bot.delivery.outbox import Outbox, Status
from bot.delivery.schema import items
from bot.home.model import HomeSubmission, Refused, Sent, ThreadStatus, Waiting, WaitReason
from bot.updates.schema import links, threads
from bot.updates.state import Link

__all__ = ["LATEST", "SubmissionsReader", "waiting_reason"]

LATEST = 20
"""How many of a person's submissions their Home lists (newest first)."""

# The worker's own words for waiting on Productlane's write budget (not a failure of anyone's).
_RATE_LIMIT_ERRORS = ("rate_limited", "waiting for rate limit")


def waiting_reason(
    *,
    status: Status,
    last_error: str | None,
    next_attempt_at: datetime,
    paused: bool,
    ahead: int,
    now: datetime,
) -> Waiting:
    """Why a submission not yet in Productlane waits (pure: the item's facts in, the reason out)."""
    if paused:
        return Waiting(WaitReason.PAUSED)
    if status is Status.SENDING:
        return Waiting(WaitReason.SENDING)
    later = next_attempt_at > now
    if later and last_error and not last_error.startswith(_RATE_LIMIT_ERRORS):
        if last_error.startswith("Slack"):
            return Waiting(WaitReason.SLACK, retry_at=next_attempt_at)
        return Waiting(WaitReason.UNREACHABLE, retry_at=next_attempt_at)
    return Waiting(WaitReason.QUEUED, ahead=ahead, retry_at=next_attempt_at if later else None)


def _parse_time(text: str | None, fallback: datetime) -> datetime:
    if not text:
        return fallback
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else fallback


class SubmissionsReader:
    """A person's latest submissions and where each stands, read in one transaction."""

    def __init__(self, outbox: Outbox, limiter_key: str) -> None:
        self._outbox = outbox
        self._limiter_key = limiter_key
        payload = items.c.payload
        self._query = (
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

    def latest(
        self, submitter_id: str, limit: int = LATEST, *, now: datetime | None = None
    ) -> list[HomeSubmission]:
        at = self._outbox.database.now(now)
        with self._outbox.database.reading() as conn:
            rows = conn.execute(self._query, {"submitter_id": submitter_id, "limit": limit}).all()
            paused = (
                conn.execute(
                    sa.select(key_problems.c.code).where(key_problems.c.key == self._limiter_key)
                ).first()
                is not None
            )
            thread_ids = [str(r.result["thread_id"]) for r in rows if _thread_id(r.result)]
            facts = _thread_facts(conn, thread_ids)
            found: list[HomeSubmission] = []
            for row in rows:
                status = Status(row.status)
                result: Mapping[str, Any] = row.result if isinstance(row.result, Mapping) else {}
                thread_id = _thread_id(result)
                state: Waiting | Sent | Refused
                if thread_id:
                    known_status, known_links = facts.get(thread_id, (None, ()))
                    state = Sent(
                        thread_url=str(result.get("url") or ""),
                        status=known_status or _status(result.get("status")),
                        links=known_links,
                        confirming=status is not Status.DELIVERED,
                    )
                elif status is Status.FAILED:
                    state = Refused(problem=row.last_error or "Productlane refused it.", item_id=int(row.id))
                elif status is Status.DELIVERED:  # delivered without a thread: not by this bot's worker
                    state = Sent(thread_url="", status=None)
                else:
                    waiting_ahead = 0 if paused else _ahead(conn, row.next_attempt_at, int(row.id))
                    state = waiting_reason(
                        status=status,
                        last_error=row.last_error,
                        next_attempt_at=row.next_attempt_at,
                        paused=paused,
                        ahead=waiting_ahead,
                        now=at,
                    )
                title, channel_id, submitted_at = row[6], row[7], row[8]
                found.append(
                    HomeSubmission(
                        item_id=int(row.id),
                        title=str(title or "").strip() or "(no title)",
                        channel_id=str(channel_id) if channel_id else None,
                        submitted_at=_parse_time(submitted_at, row.created_at),
                        state=state,
                    )
                )
        return found


def _thread_id(result: object) -> str | None:
    if isinstance(result, Mapping) and result.get("thread_id"):
        return str(result["thread_id"])
    return None


def _status(value: object) -> ThreadStatus | None:
    try:
        return ThreadStatus(str(value)) if value else None
    except ValueError:
        return None


def _ahead(conn: Connection, next_attempt_at: datetime, item_id: int) -> int:
    """Submissions to be sent before this one: those being sent, and those due earlier (the order
    the worker claims in). Two ranges of the (status, next_attempt_at) index."""
    earlier = sa.or_(
        items.c.next_attempt_at < next_attempt_at,
        sa.and_(items.c.next_attempt_at == next_attempt_at, items.c.id < item_id),
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
    pending, sending = conn.execute(query).one()
    return int(pending) + int(sending)


def _thread_facts(
    conn: Connection, thread_ids: Iterable[str]
) -> dict[str, tuple[ThreadStatus | None, tuple[Link, ...]]]:
    """Each thread's status and live links as the updates last heard them (by key)."""
    wanted = sorted(set(thread_ids))
    if not wanted:
        return {}
    facts: dict[str, tuple[ThreadStatus | None, tuple[Link, ...]]] = {}
    for thread_id, status in conn.execute(
        sa.select(threads.c.thread_id, threads.c.status).where(threads.c.thread_id.in_(wanted))
    ):
        facts[str(thread_id)] = (_status(status), ())
    found: dict[str, list[Link]] = {}
    query = (
        sa.select(links)
        .where(links.c.thread_id.in_(wanted), links.c.removed == sa.false())
        .order_by(links.c.created_at, links.c.need_id)
    )
    for row in conn.execute(query):
        m = row._mapping
        found.setdefault(str(m["thread_id"]), []).append(
            Link(
                need_id=m["need_id"],
                issue_id=m["issue_id"],
                project_id=m["project_id"],
                issue_name=m["issue_name"],
                project_name=m["project_name"],
                completed=bool(m["completed"]),
            )
        )
    for thread_id, thread_links in found.items():
        status, _ = facts.get(thread_id, (None, ()))
        facts[thread_id] = (status, tuple(thread_links))
    return facts

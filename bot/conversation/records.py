"""The conversation's rows as its store hands them out: followed threads, the follow-ups of one, the
batches they go out in, and the route."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

__all__ = [
    "NOTE_MAX",
    "WAITING",
    "Batch",
    "FollowUp",
    "FollowedThread",
    "Route",
    "ThreadWork",
    "batch_of",
    "follow_up_of",
    "ts_micros",
]

NOTE_MAX = 200
"""What a follow-up's note keeps of why it was dropped."""
WAITING = ("pending", "sending")
"""The statuses of follow-ups still to be sent."""


def ts_micros(ts: str) -> int:
    """A Slack ts ("1733150160.000300") as whole microseconds, exactly (no float)."""
    seconds, _, fraction = ts.partition(".")
    try:
        return int(seconds) * 1_000_000 + int((fraction + "000000")[:6] or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class FollowedThread:
    channel_id: str
    thread_ts: str
    thread_id: str
    item_key: str | None
    filed_at: datetime
    follow_until: datetime
    body_sha256: str | None = None
    """The fingerprint of the body Productlane created the thread with (None: unknown)."""


@dataclass(frozen=True)
class Route:
    route: str  # "comments" | "patch"
    reason: str | None
    since: datetime
    retry_at: datetime | None


@dataclass(frozen=True)
class ThreadWork:
    """A followed thread claimed by one sender."""

    channel_id: str
    thread_ts: str
    thread_id: str
    item_key: str | None
    batch: Mapping[str, Any] | None
    route: Route | None = None
    """This thread's route when it is not comments (None: comments)."""
    body_sha256: str | None = None
    """The fingerprint of the body as the bot last wrote it (None: unknown)."""


@dataclass(frozen=True)
class FollowUp:
    key: str
    ts: str
    sort_us: int
    user_id: str | None
    message: Mapping[str, Any]
    status: str
    revision: int
    received_at: datetime
    edited: bool

    @property
    def version(self) -> tuple[str, int, str]:
        return self.key, self.revision, self.status


@dataclass(frozen=True)
class Batch:
    """Follow-ups of one thread that go out in one write, oldest first."""

    id: str
    route: str  # "comments" | "patch"
    attempted: bool
    replies: tuple[FollowUp, ...]
    keep_body: bool = False
    """The thread's body was changed in Productlane: this batch never re-renders it."""
    body_sha256: str | None = None
    """The fingerprint of the body this batch's write sent (the fallback), once attempted."""

    def as_json(self, **changes: Any) -> dict[str, Any]:
        """What the thread's ``batch`` column keeps of it (``changes``: new values)."""
        kept: dict[str, Any] = {
            "id": self.id,
            "route": self.route,
            "attempted": self.attempted,
            "keep_body": self.keep_body,
            "body_sha256": self.body_sha256,
        }
        return kept | changes

    @property
    def marker(self) -> str:
        """What a comment holding this batch contains: the link to its first reply in Slack."""
        first = self.replies[0] if self.replies else None
        return "" if first is None else f"/p{first.ts.replace('.', '')}"


def batch_of(current: Mapping[str, Any], replies: tuple[FollowUp, ...]) -> Batch:
    """The batch the thread's ``batch`` column describes, with its replies."""
    body = current.get("body_sha256")
    return Batch(
        str(current["id"]),
        str(current["route"]),
        bool(current.get("attempted")),
        replies,
        keep_body=bool(current.get("keep_body")),
        body_sha256=body if isinstance(body, str) else None,
    )


def follow_up_of(row: sa.Row[Any]) -> FollowUp:
    m = row._mapping
    message = m["message"] if isinstance(m["message"], Mapping) else {}
    return FollowUp(
        key=m["key"],
        ts=m["ts"],
        sort_us=int(m["sort_us"]),
        user_id=m["user_id"],
        message=message,
        status=m["status"],
        revision=int(m["revision"]),
        received_at=m["received_at"],
        edited=":edited:" in m["key"],
    )

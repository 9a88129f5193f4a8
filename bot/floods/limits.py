"""What the limits are and when a message goes over them: pure, tested without a database."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.settings import Settings

__all__ = [
    "NO_LIMITS",
    "WINDOW",
    "FloodLimits",
    "Limit",
    "Scope",
    "flood_limits",
    "over_limit",
    "posted_at",
]

WINDOW = timedelta(hours=1)
"""The sliding window every limit counts in."""


class Scope(enum.StrEnum):
    AUTOMATIC = "automatic"
    """New threads from automatic capture."""
    FOLLOWUP = "followup"
    """Replies in a followed thread, on their way to Productlane as comments."""

    @property
    def noun(self) -> str:
        return "new threads" if self is Scope.AUTOMATIC else "follow-ups"


@dataclass(frozen=True, slots=True)
class Limit:
    """How many of one scope an hour; 0: no limit."""

    per_author: int
    per_channel: int


@dataclass(frozen=True, slots=True)
class FloodLimits:
    automatic: Limit
    followups: Limit

    def of(self, scope: Scope) -> Limit:
        return self.automatic if scope is Scope.AUTOMATIC else self.followups

    def describe(self) -> str:
        """The limits in a line, for `check` and the docs."""

        def words(limit: Limit, noun: str) -> str:
            author = f"{limit.per_author:,} per author" if limit.per_author else "no limit per author"
            channel = f"{limit.per_channel:,} per channel" if limit.per_channel else "no limit per channel"
            return f"{noun}: {author}, {channel} an hour"

        return (
            f"{words(self.automatic, 'automatic capture, new threads')}; "
            f"{words(self.followups, 'follow-ups')}"
        )


NO_LIMITS = FloodLimits(Limit(0, 0), Limit(0, 0))


def flood_limits(settings: Settings) -> FloodLimits:
    """The limits the settings ask for."""
    return FloodLimits(
        automatic=Limit(settings.automatic_per_author_hour, settings.automatic_per_channel_hour),
        followups=Limit(settings.followups_per_author_hour, settings.followups_per_channel_hour),
    )


def over_limit(scope: Scope, limit: Limit, *, by_author: int, in_channel: int) -> str | None:
    """Which limit one more message would go over, in words; None when it may go.

    ``by_author`` and ``in_channel``: how many of ``scope`` the author and the channel sent within
    the last hour (this message not counted)."""
    if limit.per_author and by_author >= limit.per_author:
        return f"more than {limit.per_author:,} {scope.noun} by one author in an hour"
    if limit.per_channel and in_channel >= limit.per_channel:
        return f"more than {limit.per_channel:,} {scope.noun} in one channel in an hour"
    return None


def posted_at(ts: str) -> datetime | None:
    """When Slack says a message was posted: its ts (seconds since the epoch, a fraction after the
    dot) as a UTC datetime; None when ``ts`` is not one."""
    try:
        seconds = float(ts)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None

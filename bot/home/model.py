"""What a Home shows, as plain data: a person's submissions and where each stands, and for admins how
delivery is doing. Read by `bot.home.reading`, rendered by `bot.home.render`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bot.floods import HeldGroup
from bot.updates.state import Link
from bot.updates.state import Status as ThreadStatus

__all__ = [
    "AdminFacts",
    "HeldGroup",
    "HomeSubmission",
    "Refused",
    "Sent",
    "ThreadStatus",
    "WaitReason",
    "Waiting",
]


class WaitReason(enum.StrEnum):
    QUEUED = "queued"
    """Its turn has not come: others are ahead of it in Productlane's write budget
    (PRODUCTLANE_WRITES_PER_MINUTE)."""
    SENDING = "sending"
    """Being sent right now."""
    UNREACHABLE = "unreachable"
    """Productlane did not answer (a network failure, a 5xx): tried again later, by itself."""
    SLACK = "slack"
    """Slack could not hand over the message's thread or files yet: tried again later."""
    PAUSED = "paused"
    """Productlane refuses the bot's API key: sent once whoever runs the bot fixes it."""


@dataclass(frozen=True, slots=True)
class Waiting:
    reason: WaitReason
    ahead: int = 0
    """Submissions (anyone's) to be sent before it, while queued."""
    retry_at: datetime | None = None
    """When it is tried again, when known."""


@dataclass(frozen=True, slots=True)
class Sent:
    thread_url: str
    status: ThreadStatus | None
    """Its status in Productlane as last heard (None: unknown)."""
    links: tuple[Link, ...] = ()
    """The issues and projects it is linked to in Productlane."""
    confirming: bool = False
    """The thread exists; the confirmation in Slack is still on its way."""


@dataclass(frozen=True, slots=True)
class Refused:
    problem: str
    """What Productlane said was wrong with it."""
    item_id: int
    """The outbox item "Edit and resend" reopens."""


@dataclass(frozen=True, slots=True)
class HomeSubmission:
    item_id: int
    title: str
    channel_id: str | None
    """Where it came from: the message's channel, or where /feedback was typed (None: neither)."""
    submitted_at: datetime
    state: Waiting | Sent | Refused


@dataclass(frozen=True, slots=True)
class AdminFacts:
    """Delivery health, for the people who run the bot."""

    waiting: int
    failed: int
    oldest_waiting_seconds: float
    paused_reason: str | None
    """Why writes are paused (Productlane refuses the key), or None when delivery runs."""
    update_mode: str
    """How Productlane's changes reach Slack: webhooks, polling (every N s) or off."""
    channels: tuple[str, ...]
    """A line for each channel with settings (mrkdwn)."""
    refused_followups: int = 0
    """Replies in followed Slack threads Productlane refused (kept, never sent)."""
    refused_followup_reason: str | None = None
    """Why the latest was refused, and its thread (plain text)."""
    held: tuple[HeldGroup, ...] = ()
    """What the flood limits hold, by channel and scope (the largest first)."""
    held_total: int = 0
    """Every held item, shown or not."""
    retention_days: int = 90
    """After how many days held items are purged (OUTBOX_RETENTION_DAYS)."""

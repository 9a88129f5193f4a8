"""What the delivery worker is built from: its settings, its Slack-side collaborators, and the
shapes of the collaborators it is handed (composing, gathering, naming, telling)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.budgets.file_copies import (
    FILES_PER_COPY,
    UPLOAD_PACE_PER_MINUTE,
    UPLOADS_PER_CHANNEL_PER_DAY,
    FileSource,
)
from bot.budgets.key_pause import KEY_PROBE_SECONDS
from bot.feedback.capture import Captured, Gathered
from bot.feedback.form import FeedbackForm
from bot.feedback.posted import PostedMessage
from bot.feedback.submission import Submission
from bot.productlane import CreateThread, UpdateThread

__all__ = [
    "ALERT_EVERY_SECONDS",
    "BACKOFF_FIRST",
    "BACKOFF_MAX",
    "Composer",
    "Confirmed",
    "Gatherer",
    "Notifier",
    "SlackSide",
    "TriageNames",
    "WorkerSettings",
    "backoff_seconds",
]

BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0
ALERT_EVERY_SECONDS = 60.0


def backoff_seconds(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter in [base/2, base]: 2 s, 4 s, 8 s … capped at 5 min."""
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, attempts - 1))
    return base / 2 + base / 2 * rng()


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How the worker paces itself: its share of Productlane's write limit, its sender threads,
    its leases, its retries and how it tends a pause for the key."""

    limiter_key: str
    """Names the write budget every replica shares (one per Productlane workspace)."""
    senders: int = 4
    rate_per_minute: int = 60
    # Steady 1/s, no burst: Productlane counts a rolling minute, and a burst of 10 on top of
    # 60/min lets 70 through in the first minute (429s measured by bench_ack).
    burst: int = 1
    lease_seconds: float = 60.0
    uploads_per_channel_per_day: int = UPLOADS_PER_CHANNEL_PER_DAY
    """The most of the day's uploads one Slack channel may take."""
    files_per_submission: int = FILES_PER_COPY
    """The most files one submission copies; the rest stay links to Slack."""
    uploads_per_minute: int = UPLOAD_PACE_PER_MINUTE
    """The pace of file uploads (Productlane takes 30 a minute; PRODUCTLANE_UPLOADS_PER_MINUTE)."""
    poll_interval: float = 1.0
    owner: str | None = None
    """Who holds this worker's leases (None: a name of its own)."""
    backoff: Callable[[int], float] = backoff_seconds
    key_probe_seconds: float = KEY_PROBE_SECONDS
    alert_every_seconds: float = ALERT_EVERY_SECONDS


class Composer(Protocol):
    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        """The create-thread request. ``captured``: the Slack thread and file copies gathered
        for it (None when only the title, contact and pain level matter, e.g. for a confirmation)."""
        ...

    def update(self, edit: Submission) -> UpdateThread:
        """The change "Edit details" makes to a thread."""
        ...


class Gatherer(FileSource, Protocol):
    """The Slack side of capture: the thread and files around a submission, and their bytes."""

    def gather(self, submission: Submission) -> Gathered:
        """Raises `TryLater` when Slack cannot answer now."""
        ...


class TriageNames(Protocol):
    """What the catalog tells delivery about the triage fields: names to show, tags that exist."""

    def names(self, form: FeedbackForm) -> dict[str, str]:
        """Names for the form's ids it has no name for yet."""
        ...

    def knows_tag(self, tag_id: str) -> bool:
        """Whether the catalog has this tag (to tell which of a refused set is gone)."""
        ...


class Confirmed(Protocol):
    """Told of each thread whose confirmation is in Slack (its submission, request and the
    delivered result: thread, url, status, reply), e.g. to keep that reply current later."""

    def __call__(self, submission: Submission, request: CreateThread, result: dict[str, Any]) -> None: ...


class Notifier(Protocol):
    def delivered(
        self,
        submission: Submission,
        request: CreateThread,
        thread_url: str,
        notes: Sequence[str] = (),
    ) -> PostedMessage | None:
        """Confirm to the submitter; where it landed (None: nowhere would take it). Raises
        `PostLater` when the confirmation cannot be posted now but can be later. ``notes``: what
        did not make it into Productlane (the thread, files), in a line each."""
        ...

    def updated(
        self,
        edit: Submission,
        original: Submission,
        request: CreateThread,
        thread_url: str,
        reply: PostedMessage | None,
        notes: Sequence[str] = (),
    ) -> PostedMessage | None:
        """The thread's details changed: refresh the confirmation. May raise `PostLater`."""
        ...

    def edit_refused(self, edit: Submission, problem: str) -> None:
        """Productlane would not take an "Edit details" change: tell whoever made it."""
        ...

    def find_delivered(self, submission: Submission, thread_url: str) -> PostedMessage | None:
        """The confirmation of `thread_url`, if an earlier attempt already posted it."""
        ...

    def delayed(self, submission: Submission) -> None: ...

    def waiting_for_operator(self, submission: Submission) -> None:
        """Saved, and sent once the bot's Productlane key is fixed. May raise `PostLater`."""
        ...

    def failed(self, submission: Submission, item_id: str, problem: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SlackSide:
    """The worker's collaborators on Slack's side: who hears how their feedback fared, where the
    thread and files around a submission come from, and whether its message is still there."""

    notifier: Notifier
    gatherer: Gatherer | None = None
    """None: nothing is captured from Slack (the thread and files are left out)."""
    withdrawn: Callable[[Submission], str | None] | None = None
    """Why a submission must no longer be sent (its message was deleted in Slack), if so."""

"""Reading what a person's Home shows from the shared database, fast enough for a Home that opens at
once with 100,000 items from 1,000 people stored: their last 20 submissions come from delivery by
the ``(submitter_id, id)`` index, with only the few fields shown taken out of each payload by the
database's own JSON functions (a payload holds the whole message); then their threads' status and
links from the updates, by key, and whether writes are paused from the shared budgets, by key.
Each feature answers from its own tables (`Submissions`, `UpdatesStore`, `KeyPause`).
"""

from __future__ import annotations

from datetime import datetime

from bot.budgets.key_pause import KeyPause
from bot.delivery.outbox import Outbox, Status
from bot.delivery.submissions import Delay, Submissions, SubmittedItem
from bot.home.model import HomeSubmission, Refused, Sent, ThreadStatus, Waiting, WaitReason
from bot.updates.records import ThreadFacts
from bot.updates.store import UpdatesStore

__all__ = ["LATEST", "SubmissionsReader", "waiting_reason"]

LATEST = 20
"""How many of a person's submissions their Home lists (newest first)."""


def waiting_reason(
    *,
    status: Status,
    delay: Delay | None,
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
    # Waiting for the write budget is no trouble of anyone's: it is queued like the rest.
    if later and delay is Delay.SLACK:
        return Waiting(WaitReason.SLACK, retry_at=next_attempt_at)
    if later and delay is Delay.TROUBLE:
        return Waiting(WaitReason.UNREACHABLE, retry_at=next_attempt_at)
    return Waiting(WaitReason.QUEUED, ahead=ahead, retry_at=next_attempt_at if later else None)


class SubmissionsReader:
    """A person's latest submissions and where each stands."""

    def __init__(self, outbox: Outbox, limiter_key: str) -> None:
        self._outbox = outbox
        self._limiter_key = limiter_key
        self._submissions = Submissions(outbox)
        self._pauses = KeyPause(outbox.database)
        self._updates = UpdatesStore(outbox.database)

    def latest(
        self, submitter_id: str, limit: int = LATEST, *, now: datetime | None = None
    ) -> list[HomeSubmission]:
        at = self._outbox.database.now(now)
        items = self._submissions.latest(submitter_id, limit)
        # Each read is a transaction of its own: those whose answer nothing shown needs are left out
        # (most Homes show no submission still waiting, and so need no word of a pause).
        paused = any(_waits(item) for item in items) and self._pauses.is_paused(self._limiter_key)
        facts = self._updates.thread_facts(item.thread_id for item in items if item.thread_id)
        return [
            HomeSubmission(
                item_id=item.item_id,
                title=str(item.title or "").strip() or "(no title)",
                channel_id=item.channel_id,
                submitted_at=item.submitted_at,
                state=self._state(item, facts, paused, at),
            )
            for item in items
        ]

    def _state(
        self, item: SubmittedItem, facts: dict[str, ThreadFacts], paused: bool, at: datetime
    ) -> Waiting | Sent | Refused:
        if item.thread_id:
            known = facts.get(item.thread_id, ThreadFacts(None))
            return Sent(
                thread_url=item.thread_url,
                status=known.status or _status(item.thread_status),
                links=known.links,
                confirming=item.status is not Status.DELIVERED,
            )
        if item.status is Status.FAILED:
            return Refused(problem=item.last_error or "Productlane refused it.", item_id=item.item_id)
        if item.status is Status.DELIVERED:  # delivered without a thread: not by this bot's worker
            return Sent(thread_url="", status=None)
        return waiting_reason(
            status=item.status,
            delay=item.delay,
            next_attempt_at=item.next_attempt_at,
            paused=paused,
            ahead=0 if paused else self._submissions.ahead_of(item),
            now=at,
        )


def _waits(item: SubmittedItem) -> bool:
    """Whether the Home shows ``item`` as waiting (see `SubmissionsReader._state`)."""
    return not item.thread_id and item.status in (Status.PENDING, Status.SENDING)


def _status(value: str | None) -> ThreadStatus | None:
    try:
        return ThreadStatus(value) if value else None
    except ValueError:
        return None

"""The ack path's one job: persist an accepted submission before Slack hears "ok"."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from bot.delivery.outbox import AddResult, EncodedJson, Outbox, OutboxItem
from bot.feedback.submission import Submission

KIND = "create_thread"
UPDATE_KIND = "update_thread"  # "Edit details": change the thread another item created


class Intake:
    """Writes submissions to the outbox and nudges the worker. Nothing here waits on a network."""

    def __init__(self, outbox: Outbox, wake: Callable[[], None] = lambda: None) -> None:
        self._outbox = outbox
        self._wake = wake

    def accept(self, submission: Submission) -> str:
        """Persist the submission (once, however often Slack retries it); returns its outbox id.

        An edited copy from "Edit and resend" supersedes the refused item in the same write.
        """
        return str(self.add(submission).id)

    def add(self, submission: Submission) -> AddResult:
        """As `accept`, and whether this call added it (False: Slack retried, or — for a
        reaction — someone else's reaction already filed the message)."""
        replaces = submission.replaces_item_id
        added = self._outbox.add(
            submission.key,
            UPDATE_KIND if submission.edits_item_id else KIND,
            EncodedJson(submission.model_dump_json()),
            submitter_id=submission.submitter_id[:64],
            supersedes=int(replaces) if replaces and replaces.isdigit() else None,
        )
        if added.created:
            self._wake()
        return added

    def submission(self, item_id: str) -> Submission | None:
        """The submission behind an outbox id (from an "Edit and resend" button's value)."""
        if not item_id.isdigit():
            return None
        return submission_of(self._outbox.get(int(item_id)))


def submission_of(item: OutboxItem | None) -> Submission | None:
    """The submission an outbox item holds; None for no item, or a payload no longer readable."""
    if item is None:
        return None
    try:
        return Submission.model_validate(item.payload)
    except ValidationError:
        return None

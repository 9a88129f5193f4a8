"""The ack path's one job: persist an accepted submission before Slack hears "ok"."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from bot.delivery.outbox import EncodedJson, Outbox
from bot.feedback.submission import Submission

KIND = "create_thread"


class Intake:
    """Writes submissions to the outbox and nudges the worker. Nothing here waits on a network."""

    def __init__(self, outbox: Outbox, wake: Callable[[], None] = lambda: None) -> None:
        self._outbox = outbox
        self._wake = wake

    def accept(self, submission: Submission) -> str:
        """Persist the submission (once, however often Slack retries it); returns its outbox id.

        An edited copy from "Edit and resend" supersedes the refused item in the same write.
        """
        replaces = submission.replaces_item_id
        added = self._outbox.add(
            submission.key,
            KIND,
            EncodedJson(submission.model_dump_json()),
            supersedes=int(replaces) if replaces and replaces.isdigit() else None,
        )
        if added.created:
            self._wake()
        return str(added.id)

    def submission(self, item_id: str) -> Submission | None:
        """The submission behind an outbox id (from an "Edit and resend" button's value)."""
        if not item_id.isdigit():
            return None
        item = self._outbox.get(int(item_id))
        if item is None:
            return None
        try:
            return Submission.model_validate(item.payload)
        except ValidationError:
            return None

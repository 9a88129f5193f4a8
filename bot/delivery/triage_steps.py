"""The writes the delivery worker makes once a thread exists: its tags (Productlane takes none on
create) and the issue "Edit details" links it to. Each is made once, within the write limit, and
waits with its thread while writes are paused; and the names the catalog gives the triage fields."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.budgets.key_pause import key_problem
from bot.delivery.outbox import OutboxItem
from bot.delivery.pause_tending import PauseTending
from bot.delivery.sending import WORKER_LOGGER, Sending, now
from bot.delivery.wiring import TriageNames
from bot.feedback.submission import Submission
from bot.productlane import CreateThread
from bot.triage.delivery import LinkStep, StepOutcome, TagStep, applied, names_shown

log = logging.getLogger(WORKER_LOGGER)


class TriageSteps:
    """Tags and links, each set by a write of its own after the create."""

    def __init__(self, sending: Sending, pause: PauseTending, triage: TriageNames | None) -> None:
        self._sending = sending
        self._pause = pause
        self._triage = triage
        backoff = sending.settings.backoff
        self._tags = TagStep(
            sending.productlane,
            is_key_problem=lambda error: key_problem(error) is not None,
            known_tag=triage.knows_tag if triage is not None else lambda tag: True,
            backoff=backoff,
        )
        self._links = LinkStep(
            sending.productlane, is_key_problem=lambda error: key_problem(error) is not None, backoff=backoff
        )

    def applied(self, submission: Submission, result: dict[str, Any]) -> Submission:
        """The submission as Productlane took it (see `bot.triage.delivery.applied`), with the
        catalog's names for its triage fields."""
        names = self._triage.names(submission.form) if self._triage is not None else {}
        return applied(submission, result, names)

    def set_tags(
        self, item: OutboxItem, submission: Submission, request: CreateThread, result: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The tags, by PATCH once the thread exists (Productlane takes none on create). The
        result to confirm with; None when the item was given back to wait (or is no longer this
        worker's)."""
        if not submission.form.tag_ids or result.get("tags_state") == "done":
            return result
        if self._paused_for_step(item, result, "tags"):
            return None
        names = self.applied(submission, {}).form.triage_names
        sending = self._sending
        outcome = self._tags.run(
            str(result["thread_id"]),
            submission.form.tag_ids,
            result,
            take_slot=lambda: sending.wait_for_write_slot(item),
            save=lambda kept: sending.outbox.record_thread(item.id, sending.claimer(), kept),
            names=names if names_shown(request) else None,
        )
        kept = self._after_step(item, outcome, "tags")
        if kept is None or not outcome.notes:
            return kept
        return {**kept, "notes": [*(kept.get("notes") or []), *outcome.notes]}

    def set_link(
        self,
        item: OutboxItem,
        edit: Submission,
        thread_id: str,
        issue: str,
        result: dict[str, Any],
        *,
        named: bool,
    ) -> dict[str, Any] | None:
        """Link the thread to the issue an edit chose. The result to go on with, the link's notes
        among its ``edit_notes``; None when the item was given back to wait (or is no longer
        this worker's)."""
        if self._paused_for_step(item, result, "link"):
            return None
        sending = self._sending
        linked = self._links.run(
            thread_id,
            issue,
            edit.form,
            result,
            take_slot=lambda: sending.wait_for_write_slot(item),
            save=lambda kept: sending.outbox.record_thread(item.id, sending.claimer(), kept),
            named=named,
            attempts=item.attempts + 1,
        )
        kept = self._after_step(item, linked, "link")
        if kept is None:
            return None
        return {**kept, "edit_notes": [*(kept.get("edit_notes") or []), *linked.notes]}

    def _paused_for_step(self, item: OutboxItem, result: dict[str, Any], step: str) -> bool:
        """While writes are paused for the key, a write after the create waits with its thread."""
        if self._pause.key_problem() is None:
            return False
        later = now() + timedelta(seconds=self._pause.probe_every)
        self._sending.outbox.schedule_retry(
            item.id, self._sending.claimer(), later, f"{step}: waiting for the operator", result=result
        )
        return True

    def _after_step(self, item: OutboxItem, outcome: StepOutcome, step: str) -> dict[str, Any] | None:
        """The result to go on with after a write made once after the create (tags, a link); None
        when the item was given back to wait, or is no longer this worker's."""
        if outcome.kind == "done":
            return outcome.result
        if outcome.kind == "lost":
            return None
        wait = outcome.wait
        if outcome.kind == "later":
            if outcome.reason == "rate_limited":
                self._sending.pause_writes(wait)
            log.info("item %s: %s waits (%s); again in %.1f s", item.id, step, outcome.reason, wait)
        else:  # refused: the key itself, as for a create
            wait = self._pause.probe_every
            refused = key_problem(outcome.error) if outcome.error is not None else None
            if refused is not None:
                self._pause.record(refused)
        self._sending.outbox.schedule_retry(
            item.id,
            self._sending.claimer(),
            now() + timedelta(seconds=wait),
            f"{step}: {outcome.reason or outcome.kind}",
            result=outcome.result,
        )
        return None

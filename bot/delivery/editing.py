"""Sending an "Edit details" change: change a thread that exists, link it to the issue chosen, and
refresh its confirmation. A PATCH sends the same values again safely, so it is simply retried after
any passing failure; a choice Productlane no longer knows is left out of the change, and said so."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError as ModelValidationError

from bot.budgets.key_pause import key_problem
from bot.delivery.confirming import Confirmations
from bot.delivery.outbox import OutboxItem, Status
from bot.delivery.pause_tending import PauseTending
from bot.delivery.sending import WORKER_LOGGER, Sending, now
from bot.delivery.triage_steps import TriageSteps
from bot.delivery.wiring import Composer, TriageNames
from bot.feedback.posted import PostedMessage, PostLater
from bot.feedback.submission import Submission
from bot.productlane import (
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    ProductlaneError,
    RateLimitedError,
    ServerError,
    UpdateThread,
)
from bot.triage.delivery import issue_to_link, names_shown, without_stale_changes

log = logging.getLogger(WORKER_LOGGER)


class ThreadEdits:
    """Settles an item that changes the thread another item created."""

    def __init__(
        self,
        sending: Sending,
        pause: PauseTending,
        steps: TriageSteps,
        confirmations: Confirmations,
        composer: Composer,
        thread_url: Callable[[str], str],
        triage: TriageNames | None,
    ) -> None:
        self._sending = sending
        self._pause = pause
        self._steps = steps
        self._confirmations = confirmations
        self._composer = composer
        self._thread_url = thread_url
        self._triage = triage

    def settle(self, item: OutboxItem, edit: Submission) -> None:
        """PATCH the thread another item created, then refresh that item's confirmation."""
        sending = self._sending
        original_id = edit.edits_item_id or ""
        original_item = sending.outbox.get(int(original_id)) if original_id.isdigit() else None
        original = _readable(original_item)
        if (
            original_item is None
            or original is None
            or original_item.status
            in (
                Status.FAILED,
                Status.SUPERSEDED,
            )
        ):
            log.warning("item %s: the thread it changes was never created; dropping the change", item.id)
            sending.outbox.mark_failed(item.id, sending.claimer(), "the feedback it changes was never sent")
            return
        thread_id = (original_item.result or {}).get("thread_id")
        if not thread_id:
            sending.outbox.schedule_retry(
                item.id, sending.claimer(), now() + timedelta(seconds=5), "waiting for the thread to exist"
            )
            return
        try:
            change = self._composer.update(edit)
        except Exception:
            log.exception("composing the change of item %s failed; will retry", item.id)
            sending.retry(item, edit, "compose failed", notify=False, before_send=True)
            return
        result: dict[str, Any] = dict(item.result or {})
        try:
            named = names_shown(self._composer.compose(original))
        except Exception:
            named = False  # a note then names nothing: the reply may be in a Slack Connect channel
        if not result.get("patched"):
            patched = self._patch(item, edit, str(thread_id), change, named)
            if patched is None:
                return
            dropped, edit_notes = patched
            result = {"thread_id": thread_id, "url": self._thread_url(str(thread_id)), "patched": True}
            if dropped:
                result |= {"triage_dropped": dropped, "edit_notes": edit_notes}
            log.info("item %s: thread %s updated", item.id, thread_id)
        issue = issue_to_link(edit)
        if issue and result.get("link_state") != "done":
            linked = self._steps.set_link(item, edit, str(thread_id), issue, result, named=named)
            if linked is None:
                return
            result = linked
        original_result = original_item.result or {}
        reply = original_result.get("reply")
        notes = [str(note) for note in original_result.get("notes") or []]
        notes += [str(note) for note in result.get("edit_notes") or []]
        # Kept with the edit's result: the reply shows them, and later status edits of it must too.
        if notes:
            result["notes"] = notes
        result["edited_by"] = edit.submitter_id
        # What the reply shows now: the thread's triage as edited.
        shown = self._as_edited(original, edit, result)
        try:
            request = self._composer.compose(original).model_copy(
                update={"title": change.title, "pain_level": change.pain_level or original.form.pain_level}
            )
            landed = sending.notifier.updated(
                edit,
                shown,
                request,
                str(result["url"]),
                PostedMessage(**reply) if isinstance(reply, dict) else None,
                notes,
            )
        except PostLater as later:
            self._confirmations.confirm_later(item, result, later)
            return
        except Exception:
            log.exception("item %s: thread updated, but refreshing the Slack reply failed", item.id)
            landed = None
        # Told again with the new title and pain level, so later status edits of the reply keep them.
        self._confirmations.finish(item, result, landed, (shown, request))

    def _as_edited(self, original: Submission, edit: Submission, result: dict[str, Any]) -> Submission:
        """The original submission with the triage "Edit details" left on the thread: the changed
        fields, except those Productlane refused (they stay as they were)."""
        kept = set(result.get("triage_dropped") or ())
        update: dict[str, Any] = {}
        for name in edit.edited_fields:
            fields = ("issue_id", "project_id") if name == "link" else (name,)
            for field_name in fields:
                if field_name not in kept:
                    update[field_name] = getattr(edit.form, field_name)
        names = {**original.form.triage_names, **edit.form.triage_names}
        form = original.form.model_copy(update={**update, "triage_names": names})
        return self._steps.applied(original.model_copy(update={"form": form}), {})

    def _patch(
        self, item: OutboxItem, edit: Submission, thread_id: str, change: UpdateThread, named: bool
    ) -> tuple[list[str], list[str]] | None:
        """Send the change; the fields left out of it because Productlane no longer knows their
        choice, with a note each, when Productlane took it. None: the item was settled here."""
        sending = self._sending
        dropped: list[str] = []
        notes: list[str] = []
        while True:
            if not sending.wait_for_write_slot(item):
                return None
            if not sending.outbox.mark_attempt(
                item.id, sending.claimer(), lease_seconds=sending.settings.lease_seconds
            ):
                return None
            try:
                sending.productlane.update_thread(thread_id, change)
            except RateLimitedError as error:
                wait = error.retry_after if error.retry_after is not None else 60.0
                sending.pause_writes(wait)
                sending.retry(item, edit, "rate_limited", notify=False, delay=wait)
                return None
            except (NetworkError, OutcomeUnknownError, ServerError) as error:
                sending.retry(item, edit, error.code or type(error).__name__, notify=False)
                return None
            except ProductlaneError as error:
                refused = key_problem(error)
                if refused is not None:
                    self._pause.pause_for(item, refused, nothing_sent=False)
                    return None
                narrowed = without_stale_changes(
                    change, error, edit.form, self._triage.knows_tag if self._triage else None, named=named
                )
                if narrowed is not None:
                    change, names, note = narrowed
                    log.info("item %s: Productlane no longer knows its %s; changing without", item.id, names)
                    dropped += names
                    notes.append(note)
                    continue
                problem = (
                    "the thread no longer exists in Productlane"
                    if isinstance(error, NotFoundError)
                    else error.user_message
                )
                log.warning("item %s: Productlane refused the change: %s", item.id, problem)
                sending.outbox.mark_failed(item.id, sending.claimer(), problem[:500])
                try:
                    sending.notifier.edit_refused(edit, problem)
                except Exception:
                    log.exception("item %s: could not tell the editor about the refusal", item.id)
                return None
            return dropped, notes


def _readable(item: OutboxItem | None) -> Submission | None:
    if item is None:
        return None
    try:
        return Submission.model_validate(item.payload)
    except ModelValidationError:
        return None

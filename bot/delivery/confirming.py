"""Confirming a delivered thread in Slack. The thread is recorded before its confirmation goes out,
so a confirmation Slack cannot take now (rate limited, an error on its side) is posted again later,
honouring Retry-After, and never twice; the item then only waits for its reply."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pydantic import ValidationError as ModelValidationError

from bot.delivery.outbox import OutboxItem
from bot.delivery.sending import WORKER_LOGGER, Sending, now
from bot.delivery.triage_steps import TriageSteps
from bot.delivery.wiring import Composer, Confirmed
from bot.feedback.posted import PostedMessage, PostLater
from bot.feedback.submission import Submission
from bot.productlane import CreateThread
from bot.triage.delivery import without_fields

log = logging.getLogger(WORKER_LOGGER)

# What a confirmation's retries keep in the item's result while they last.
_RETRY_KEYS = frozenset({"reply_attempts", "reply_maybe_posted"})


class Confirmations:
    """The submitter hears where their feedback went, once; then whoever follows it is told."""

    def __init__(
        self, sending: Sending, steps: TriageSteps, composer: Composer, on_confirmed: Confirmed | None
    ) -> None:
        self._sending = sending
        self._steps = steps
        self._composer = composer
        self._on_confirmed = on_confirmed

    def tag_and_confirm(
        self, item: OutboxItem, submission: Submission, request: CreateThread, result: dict[str, Any]
    ) -> None:
        """A thread just created (and recorded): set its tags, then confirm it."""
        tagged = self._steps.set_tags(item, submission, request, result)
        if tagged is not None:
            self.confirm(item, submission, request, tagged)

    def confirm_again(self, item: OutboxItem, submission: Submission) -> None:
        """An earlier claim created the thread: set what it did not, and confirm it once."""
        result = dict(item.result or {})
        try:
            request = self._composer.compose(submission)
        except ModelValidationError:
            # It composed when the thread was created; if it no longer does, stop trying.
            log.error("item %s: its confirmation can no longer be composed; giving it up", item.id)
            self.finish(item, result, None, None)
            return
        except Exception:
            log.exception("composing the confirmation of item %s failed; will retry", item.id)
            self.confirm_later(item, result, PostLater("compose failed"))
            return
        request = without_fields(request, result.get("triage_dropped") or ())
        if result.get("tags_state") != "done" and submission.form.tag_ids:
            # Taken over before its tags were set (a crash, a wait for the budget): set them now.
            tagged = self._steps.set_tags(item, submission, request, result)
            if tagged is None:
                return
            result = tagged
        # An earlier attempt may have posted it and not lived to record it (a crash leaves no
        # answer recorded), or Slack never answered it: never post it twice. A refusal Slack
        # answered (rate limited) posted nothing, and the thread is not read again for it.
        already = None
        if result.get("reply_maybe_posted", True):
            try:
                already = self._sending.notifier.find_delivered(submission, str(result.get("url")))
            except Exception:
                log.exception("item %s: could not look for its confirmation in Slack", item.id)
        if already is not None:
            log.info("item %s: its confirmation is already in Slack; not posting it again", item.id)
            self.finish(item, result, already, (submission, request))
            return
        self.confirm(item, submission, request, result)

    def confirm(
        self, item: OutboxItem, submission: Submission, request: CreateThread, result: dict[str, Any]
    ) -> None:
        # The confirmation shows what Productlane got: no field it refused, the tags it took.
        submission = self._steps.applied(submission, result)
        try:
            notes = [str(note) for note in result.get("notes") or []]
            landed = self._sending.notifier.delivered(submission, request, str(result.get("url")), notes)
        except PostLater as later:
            self.confirm_later(item, result, later)
            return
        except Exception:
            log.exception("item %s: delivered, but the Slack reply failed", item.id)
            landed = None
        self.finish(item, result, landed, (submission, request))

    def confirm_later(self, item: OutboxItem, result: dict[str, Any], later: PostLater) -> None:
        tries = int(result.get("reply_attempts") or 0) + 1
        wait = later.retry_after if later.retry_after is not None else self._sending.settings.backoff(tries)
        log.info(
            "item %s: the confirmation must wait (%s); posting it in %.1f s", item.id, later.reason, wait
        )
        self._sending.outbox.schedule_retry(
            item.id,
            self._sending.claimer(),
            now() + timedelta(seconds=wait),
            f"confirmation in Slack: {later.reason}",
            result={**result, "reply_attempts": tries, "reply_maybe_posted": later.maybe_posted},
        )

    def finish(
        self,
        item: OutboxItem,
        result: dict[str, Any],
        landed: PostedMessage | None,
        confirmed: tuple[Submission, CreateThread] | None,
    ) -> None:
        final = {key: value for key, value in result.items() if key not in _RETRY_KEYS}
        # Where the confirmation is, so later news about the thread can go under it.
        final["reply"] = landed.as_json() if landed is not None else None
        if not self._sending.outbox.mark_delivered(item.id, self._sending.claimer(), final):
            log.warning("item %s: lease lost before it was marked delivered", item.id)
            return
        if confirmed is not None and self._on_confirmed is not None:
            try:
                self._on_confirmed(*confirmed, final)
            except Exception:
                log.exception("item %s: delivered; what follows the confirmation failed", item.id)

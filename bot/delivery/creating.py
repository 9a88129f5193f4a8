"""Creating a submission's thread in Productlane, exactly once.

Productlane has no idempotency key, so after an attempt whose outcome is unknown (a timeout or 5xx
after the request was sent, or a crash mid-send) the thread is looked for before sending again.
Before the first send, the Slack thread and files around the submission are gathered and copied
(unless its message was deleted meanwhile); once the thread exists it is recorded, then confirmed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as ModelValidationError

from bot import metrics
from bot.budgets.file_copies import CopierSettings, CopyLater, FileCopier, KeyRefused, LeaseLost
from bot.budgets.key_pause import key_problem
from bot.delivery.confirming import Confirmations
from bot.delivery.copies import copy_item_files
from bot.delivery.outbox import OutboxItem
from bot.delivery.pause_tending import PauseTending
from bot.delivery.sending import WORKER_LOGGER, Sending, age, now
from bot.delivery.sent import record_sent
from bot.delivery.wiring import Composer, SlackSide
from bot.feedback.capture import Captured, TryLater
from bot.feedback.submission import Submission
from bot.productlane import (
    AuthenticationError,
    CreateThread,
    NetworkError,
    OutcomeUnknownError,
    ProductlaneError,
    RateLimitedError,
    ServerError,
    Thread,
)
from bot.productlane.models import body_fingerprint
from bot.triage.delivery import (
    CREATE_FIELDS,
    dropped_from,
    dropped_note,
    names_shown,
    present,
    stale_fields,
    without_fields,
)

log = logging.getLogger(WORKER_LOGGER)

# How far before our first attempt a thread Productlane created may be stamped (clock skew).
SEARCH_MARGIN = timedelta(minutes=5)
SEARCH_PAGES = 5


def same_thread(thread: Thread, request: CreateThread, reference: str) -> bool:
    """Is this thread the one an earlier, unconfirmed attempt of `request` created?

    Title and contact alone are not enough (two messages may both start "Hi team,"): the body
    carries the submission's reference, which no other submission has.
    """
    email = thread.contact.email if thread.contact else None
    return (
        reference in (thread.text or "")
        and (thread.title or "") == (request.title or "")
        and (email or "").lower() == str(request.contact_email).lower()
    )


class ThreadCreation:
    """Settles an item whose thread does not exist yet: it is created, or found, or refused."""

    def __init__(
        self,
        sending: Sending,
        pause: PauseTending,
        confirmations: Confirmations,
        composer: Composer,
        slack: SlackSide,
        thread_url: Callable[[str], str],
    ) -> None:
        self._sending = sending
        self._pause = pause
        self._confirmations = confirmations
        self._composer = composer
        self._withdrawn = slack.withdrawn
        self._thread_url = thread_url
        # Capture: the thread and the files, gathered and copied before composing.
        self._gatherer = slack.gatherer
        settings = sending.settings
        self._copier = (
            FileCopier(
                sending.outbox.database,
                sending.productlane,
                slack.gatherer,
                CopierSettings(
                    limiter_key=settings.limiter_key,
                    lease_seconds=settings.lease_seconds,
                    write_rate_per_minute=settings.rate_per_minute,
                    write_burst=settings.burst,
                    uploads_per_minute=settings.uploads_per_minute,
                    uploads_per_channel_per_day=settings.uploads_per_channel_per_day,
                    files_per_copy=settings.files_per_submission,
                ),
                stopping=sending.stopping,
            )
            if slack.gatherer is not None
            else None
        )

    def settle(self, item: OutboxItem, submission: Submission) -> None:
        sending = self._sending
        if self._withdraw(item, submission):
            return
        captured = self._capture(item, submission)
        if captured is None:
            return
        try:
            request = self._composer.compose(submission, captured)
        except ModelValidationError as error:
            problem = "; ".join(str(e["msg"]) for e in error.errors(include_input=False))
            sending.fail(item, submission, f"the feedback could not be composed ({problem}).")
            return
        except Exception:
            log.exception("composing item %s failed; will retry", item.id)
            sending.retry(item, submission, "compose failed", notify=age(item) > 60, before_send=True)
            return
        if item.first_sent_at is not None:
            # An earlier attempt may have created the thread: look before sending again.
            try:
                existing = self._find_existing(request, submission.reference, item.first_sent_at)
            except AuthenticationError as error:
                refused = key_problem(error)
                assert refused is not None  # noqa: S101 - every AuthenticationError is one
                self._pause.pause_for(item, refused, nothing_sent=False)
                return
            except ProductlaneError as error:
                sending.retry(item, submission, f"search: {error.code}", notify=True, before_send=True)
                return
            if existing is not None:
                log.info("item %s: found thread %s from an earlier attempt", item.id, existing.id)
                dropped = dropped_from(existing, request)
                named = names_shown(request)
                notes = captured.submitter_notes() + [
                    dropped_note(n, submission.form, named) for n in dropped
                ]
                self._delivered(item, submission, without_fields(request, dropped), existing, notes, dropped)
                return
        notes, dropped = captured.submitter_notes(), []
        while True:
            if not sending.wait_for_write_slot(item):
                return
            if not sending.outbox.mark_attempt(
                item.id, sending.claimer(), lease_seconds=sending.settings.lease_seconds
            ):
                log.warning("item %s: lease lost before sending; another worker has it", item.id)
                return
            try:
                thread = sending.productlane.create_thread(request)
            except RateLimitedError as error:
                wait = error.retry_after if error.retry_after is not None else 60.0
                sending.pause_writes(wait)
                sending.retry(item, submission, "rate_limited", notify=item.attempts >= 3, delay=wait)
            except (NetworkError, OutcomeUnknownError, ServerError) as error:
                sending.retry(item, submission, error.code or type(error).__name__, notify=True)
            except ProductlaneError as error:
                refused = key_problem(error)
                stale = stale_fields(error, present(request)) if refused is None else set()
                if stale:
                    # A choice deleted since it was made: send without it, and say so.
                    names = sorted(stale, key=CREATE_FIELDS.index)
                    log.info("item %s: Productlane no longer knows its %s; sending without", item.id, names)
                    notes += [dropped_note(name, submission.form, names_shown(request)) for name in names]
                    dropped += names
                    request = without_fields(request, names)
                    continue
                if refused is None:
                    sending.fail(item, submission, error.user_message)
                else:
                    # A definite refusal: if this was the first send, no thread can exist.
                    self._pause.pause_for(item, refused, nothing_sent=item.first_sent_at is None)
            else:
                self._delivered(item, submission, request, thread, notes, dropped)
            return

    def _withdraw(self, item: OutboxItem, submission: Submission) -> bool:
        """Drop an item that must not be sent after all, before anything of it goes out (files
        included); True when dropped. One an earlier attempt may have sent goes on as usual."""
        if self._withdrawn is None or item.first_sent_at is not None:
            return False
        reason = self._withdrawn(submission)
        if reason is None:
            return False
        if self._sending.outbox.discard(item.id, self._sending.claimer()):
            log.info("item %s not sent and dropped: %s", item.id, reason)
        return True

    def _capture(self, item: OutboxItem, submission: Submission) -> Captured | None:
        """The Slack thread (when asked for) and the files copied into Productlane; None when the
        item must wait (it is rescheduled here) or is no longer this worker's."""
        if self._gatherer is None or self._copier is None:
            return Captured()
        sending = self._sending
        try:
            gathered = self._gatherer.gather(submission)
            copies = copy_item_files(
                self._copier,
                sending.outbox,
                item,
                gathered.files,
                sending.claimer(),
                sending.settings.lease_seconds,
                channel_id=submission.source.channel_id if submission.source else None,
            )
        except TryLater as later:
            sending.retry(
                item,
                submission,
                f"Slack: {later.reason}",
                notify=False,
                delay=later.retry_after,
                before_send=True,
            )
            return None
        except CopyLater as later:
            log.info("item %s: %s; files continue in %.1f s", item.id, later.reason, later.wait)
            sending.outbox.schedule_retry(
                item.id, sending.claimer(), now() + timedelta(seconds=later.wait), later.reason
            )
            return None
        except LeaseLost:
            log.warning("item %s: lease lost while copying its files; another worker has it", item.id)
            return None
        except KeyRefused as refused:
            problem = key_problem(refused.error)
            if problem is None:  # every KeyRefused carries an AuthenticationError, which is one
                sending.retry(item, submission, "upload refused", notify=False, before_send=True)
            else:
                self._pause.pause_for(item, problem, nothing_sent=False)
            return None
        return Captured(
            thread=gathered.thread,
            thread_problem=gathered.thread_problem,
            copies=copies,
            files=gathered.files,
        )

    def _find_existing(self, request: CreateThread, reference: str, first_sent_at: datetime) -> Thread | None:
        cursor: str | None = None
        for _ in range(SEARCH_PAGES):
            page = self._sending.productlane.list_threads(
                created_after=first_sent_at - SEARCH_MARGIN,
                origin=request.origin.value if request.origin else None,
                limit=200,
                cursor=cursor,
            )
            for thread in page.data:
                if same_thread(thread, request, reference):
                    return thread
            if not page.page.has_more or not page.page.cursor:
                return None
            cursor = page.page.cursor
        return None

    def _delivered(
        self,
        item: OutboxItem,
        submission: Submission,
        request: CreateThread,
        thread: Thread,
        notes: Sequence[str] = (),
        dropped: Sequence[str] = (),
    ) -> None:
        result: dict[str, Any] = {
            "thread_id": thread.id,
            "url": self._thread_url(thread.id),
            # The thread as created: later news about it (webhooks, polling) is compared to this.
            "status": thread.status if isinstance(thread.status, str) else None,
            "updated_at": thread.updated_at.isoformat(),
            # The body as created: the follow-ups' fallback never overwrites one changed since.
            "body_sha256": body_fingerprint(thread.text),
        }
        if notes:
            result["notes"] = list(notes)
        if dropped:
            result["triage_dropped"] = list(dropped)
        outbox = self._sending.outbox
        # Recorded before Slack hears of it: whatever happens to the reply, no retry sends again.
        if not outbox.record_thread(item.id, self._sending.claimer(), result):
            # Whoever holds the item now finds this thread before sending, and confirms it.
            log.warning("item %s: lease lost before thread %s was recorded", item.id, thread.id)
            return
        if submission.source is not None:
            # The duplicate guard's record: the next person to point at this message is told.
            record_sent(
                outbox.database,
                submission.source.channel_id,
                submission.source.ts,
                thread_id=thread.id,
                thread_url=str(result["url"]),
                submitter_id=submission.submitter_id,
            )
        log.info("item %s delivered as thread %s", item.id, thread.id)
        metrics.delivered(item.created_at)
        self._confirmations.tag_and_confirm(item, submission, request, result)

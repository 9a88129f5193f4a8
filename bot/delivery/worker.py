"""The delivery worker: sends accepted submissions from the outbox to Productlane, exactly once.

- Within Productlane's write limit, shared through the outbox's database by every replica.
- Retries what retrying can fix (429 after Retry-After, 5xx, network) with backoff and jitter, forever:
  an acked submission is never dropped. Stops on refusals retrying cannot fix, and tells the submitter.
- Productlane has no idempotency key, so after an attempt whose outcome is unknown (a timeout or 5xx
  after the request was sent, or a crash mid-send) it looks for the thread before sending again.
- Once the thread exists it is recorded before the confirmation goes to Slack. A confirmation Slack
  cannot take now (rate limited, an error on its side) is posted again later, honouring
  Retry-After; the item then only waits for its reply, so the thread is never created twice.
- When Productlane refuses the API key itself (401 unauthenticated, 410 unsupported_key_version,
  403 scope_required) no submission is at fault and "Edit and resend" cannot help. Writes pause on
  every replica (a row in the outbox's database), items stay pending, each submitter hears once
  that their feedback is saved, the log says what to fix at most once a minute, and one replica
  checks the key (GET /me) every `key_probe_seconds`: once it works, delivery resumes by itself.
  A process checks at once when it starts, so a restart with a fixed key resumes straight away.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError as ModelValidationError

from bot import metrics
from bot.background import BackgroundThreads, RepeatedFailureLog
from bot.budgets.file_copies import CopyLater, FileCopier, FileSource, KeyRefused, LeaseLost
from bot.budgets.key_pause import KeyPause, KeyProblem
from bot.budgets.write_limits import WriteLimits
from bot.delivery.copies import copy_item_files
from bot.delivery.intake import UPDATE_KIND
from bot.delivery.outbox import Outbox, OutboxItem, Status
from bot.delivery.sent import record_sent
from bot.feedback.capture import Captured, Gathered, TryLater
from bot.feedback.form import FeedbackForm
from bot.feedback.posted import PostedMessage, PostLater
from bot.feedback.submission import Submission
from bot.logs import outbox_item
from bot.productlane import (
    AuthenticationError,
    CreateThread,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ScopeError,
    ServerError,
    Thread,
    UnsupportedKeyVersionError,
    UpdateThread,
)
from bot.triage.delivery import (
    CREATE_FIELDS,
    LinkStep,
    StepOutcome,
    TagStep,
    applied,
    dropped_from,
    dropped_note,
    issue_to_link,
    names_shown,
    present,
    stale_fields,
    without_fields,
    without_stale_changes,
)

log = logging.getLogger(__name__)

KIND = "create_thread"
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0
# How far before our first attempt a thread Productlane created may be stamped (clock skew).
SEARCH_MARGIN = timedelta(minutes=5)
SEARCH_PAGES = 5
WRITE_SCOPE = "threads:write"
KEY_PROBE_SECONDS = 30.0
ALERT_EVERY_SECONDS = 60.0
# After Slack refused a "saved, will be sent" notice for now, when no Retry-After says how long.
NOTICE_PAUSE_SECONDS = 30.0


class Composer(Protocol):
    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        """The create-thread request. ``captured``: the Slack thread and file copies gathered
        for it (None when only the title, contact and pain level matter, e.g. for a confirmation)."""
        ...

    def update(self, edit: Submission) -> UpdateThread:
        """The change "Edit details" makes to a thread that already exists."""
        ...


class Gatherer(FileSource, Protocol):
    """The Slack side of capture: the thread and files around a submission, and their bytes."""

    def gather(self, submission: Submission) -> Gathered:
        """Raises `TryLater` when Slack cannot answer now."""
        ...


class TriageNames(Protocol):
    """What the catalog tells delivery about the triage fields: their names, and which still exist."""

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


_NEW_KEY = (
    "create a v2 API key (pl_v2_…) with threads:write in Productlane → Settings → API, "
    "put it in PRODUCTLANE_API_KEY and restart the bot"
)


def key_problem(error: ProductlaneError) -> tuple[str, str] | None:
    """``(code, what the operator must fix)`` when Productlane refused the bot's API key itself,
    which no submitter can fix; None for a refusal of the submission (or anything else)."""
    if isinstance(error, UnsupportedKeyVersionError):
        return (
            error.code or "unsupported_key_version",
            "Productlane refused the API key (unsupported_key_version: a v1 key, which API v2 "
            f"no longer accepts): {_NEW_KEY}.",
        )
    if isinstance(error, AuthenticationError):
        return (
            error.code or "unauthenticated",
            f"Productlane refused the API key (unauthenticated: missing, invalid or revoked): {_NEW_KEY}.",
        )
    if isinstance(error, ScopeError) and error.code == "scope_required":
        return "scope_required", missing_scope_message(error.required or [WRITE_SCOPE], error.granted)
    return None


def missing_scope_message(required: list[str], granted: list[str]) -> str:
    needed = ", ".join(required)
    return (
        f"Productlane refused the API key (scope_required: it lacks {needed}; it has "
        f"{', '.join(granted) or 'none'}): give the key {needed} in Productlane, or "
        f"{_NEW_KEY.replace('threads:write', needed)}."
    )


def backoff_seconds(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter in [base/2, base]: 2 s, 4 s, 8 s … capped at 5 min."""
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, attempts - 1))
    return base / 2 + base / 2 * rng()


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


# What a confirmation's retries keep in the item's result while they last.
_RETRY_KEYS = frozenset({"reply_attempts", "reply_maybe_posted"})


class DeliveryWorker:
    """Sender threads that claim outbox items and deliver them."""

    def __init__(
        self,
        outbox: Outbox,
        productlane: ProductlaneClient,
        composer: Composer,
        notifier: Notifier,
        thread_url: Callable[[str], str],
        *,
        limiter_key: str,
        senders: int = 4,
        rate_per_minute: int = 60,
        # Steady 1/s, no burst: Productlane counts a rolling minute, and a burst of 10 on top of
        # 60/min lets 70 through in the first minute (429s measured by bench_ack).
        burst: int = 1,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        owner: str | None = None,
        backoff: Callable[[int], float] = backoff_seconds,
        key_probe_seconds: float = KEY_PROBE_SECONDS,
        alert_every_seconds: float = ALERT_EVERY_SECONDS,
        on_confirmed: Confirmed | None = None,
        gatherer: Gatherer | None = None,
        withdrawn: Callable[[Submission], str | None] | None = None,
        triage: TriageNames | None = None,
    ) -> None:
        self._outbox = outbox
        self._limits = WriteLimits(outbox.database)
        self._pauses = KeyPause(outbox.database)
        self._productlane = productlane
        self._on_confirmed = on_confirmed
        # Why a submission must no longer be sent (its message was deleted in Slack), if so.
        self._withdrawn = withdrawn
        self._composer = composer
        self._notifier = notifier
        self._thread_url = thread_url
        self._limiter_key = limiter_key
        self._senders = senders
        self._rate = rate_per_minute
        self._burst = burst
        self._lease = lease_seconds
        self._poll = poll_interval
        self._backoff = backoff
        self.owner = owner or f"worker-{uuid.uuid4().hex[:8]}"
        self._threads = BackgroundThreads()
        self._pass_failures = RepeatedFailureLog(log, "delivery pass")
        self._wake = self._threads.wake
        self._stopping = self._threads.stopping
        # While the key is refused: one sender thread at a time tends the pause.
        self._probe_every = key_probe_seconds
        self._alert_every = alert_every_seconds
        self._pause_lock = threading.Lock()
        self._just_started = True  # check a stored pause at once: the key may have been replaced
        self._alerted_at: float | None = None
        self._held_at = 0.0
        self._notices_after = 0.0
        # Triage: names for the confirmation, and tags set by a PATCH once (create takes none).
        self._triage = triage
        self._tags = TagStep(
            productlane,
            is_key_problem=lambda error: key_problem(error) is not None,
            known_tag=triage.knows_tag if triage is not None else lambda tag: True,
            backoff=backoff,
        )
        self._links = LinkStep(
            productlane, is_key_problem=lambda error: key_problem(error) is not None, backoff=backoff
        )
        # Capture: the thread and the files, gathered and copied before composing.
        self._gatherer = gatherer
        self._copier = (
            FileCopier(
                outbox.database,
                productlane,
                gatherer,
                limiter_key=limiter_key,
                lease_seconds=lease_seconds,
                write_rate_per_minute=rate_per_minute,
                write_burst=burst,
                stopping=self._stopping,
            )
            if gatherer is not None
            else None
        )

    # --- running -------------------------------------------------------------------------------
    def wake(self) -> None:
        """A new item is in the outbox: stop waiting for the next poll."""
        self._wake.set()

    def start(self) -> None:
        # One sender always; the others start while there is a backlog and end when it is gone, so
        # an idle bot holds one thread (and its memory), not `senders`.
        self._threads.start([("delivery-0", self._run)])

    def senders_running(self) -> int:
        return int(self._threads.started) + self._threads.helpers()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the sends under way (an item half-sent is settled by the next start anyway)."""
        self._threads.stop(timeout)

    def problems(self) -> list[str]:
        """What makes this replica unfit to take submissions (empty: all well), for /readyz."""
        if self._threads.any_died():
            return ["the delivery worker has stopped; restart the bot"]
        if not self._threads.started and not self._stopping.is_set():
            return ["the delivery worker is not running"]
        return []

    def notices(self) -> list[str]:
        """What an operator must fix although submissions are still taken and kept (for /readyz).

        A refused key pauses every replica alike: failing /readyz for it would take them all out
        of the load balancer, and Slack's requests (which are saved and sent once the key works)
        would be refused instead.
        """
        try:
            paused = self.key_problem()
        except Exception:  # the database: the caller reports it (see Bot.readiness_problems)
            log.debug("could not read the delivery pause", exc_info=True)
            return []
        return [] if paused is None else [f"delivery is paused: {paused.message}"]

    def key_problem(self) -> KeyProblem | None:
        """The pause of every replica's writes while Productlane refuses the API key, if any."""
        return self._pauses.key_problem(self._limiter_key)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._pass():
                self._wake.wait(self._poll)
                self._wake.clear()

    def _help(self) -> None:
        """A helper sender: works while items are due and ends after a poll interval without any."""
        idle = False
        while not self._stopping.is_set():
            if self._pass():
                idle = False
                continue
            if idle:
                return
            idle = True
            self._wake.wait(self._poll)
            self._wake.clear()

    def _pass(self) -> bool:
        """Deliver one due item; True when there was one (then one more sender may help)."""
        try:
            delivered_any = self.deliver_due(limit=1) > 0
        except Exception as error:
            self._pass_failures.failed(error)
            return False
        self._pass_failures.worked()
        if delivered_any and self._senders > 1:
            self._threads.add_helper([f"delivery-{index}" for index in range(1, self._senders)], self._help)
        return delivered_any

    def _claimer(self) -> str:
        # Leases belong to one sender thread, not the worker: two threads of one worker must never
        # both hold an item (one whose lease ran out, one that claimed it afterwards).
        return f"{self.owner}/{threading.current_thread().name}"

    def deliver_due(self, limit: int = 10) -> int:
        """Claim up to `limit` due items and settle each. Returns how many were claimed.

        While the key is refused, only confirmations of threads that already exist are claimed.
        """
        paused = self.key_problem()
        if paused is None:
            self._just_started = False
        else:
            paused = self._while_paused(paused)
        items = self._outbox.claim(
            self._claimer(), limit=limit, lease_seconds=self._lease, replies_only=paused is not None
        )
        for item in items:
            with outbox_item(item.id):  # its log entries carry the item's id (LOG_FORMAT=json)
                self._settle(item)
        return len(items)

    # --- the key refused: pause, tell, probe ----------------------------------------------------
    def _while_paused(self, paused: KeyProblem) -> KeyProblem | None:
        """Tend the pause; the pause still in force afterwards (None: the key works again)."""
        if not self._pause_lock.acquire(blocking=False):
            return paused  # another sender thread of this process is at it
        try:
            force, self._just_started = self._just_started, False
            if (force or paused.probe_at <= _now()) and self._pauses.claim_key_probe(
                self._limiter_key, self._probe_every, force=force
            ):
                if self._probe_key():
                    return None
                refreshed = self.key_problem()
                if refreshed is None:
                    return None
                paused = refreshed
            self._alert(paused)
            self._tell_waiting_submitters(paused)
            return paused
        finally:
            self._pause_lock.release()

    def _probe_key(self) -> bool:
        """GET /me: True when the key works with threads:write again (writes resume everywhere)."""
        key = self._limiter_key
        try:
            me = self._productlane.me()
        except RateLimitedError as error:
            wait = error.retry_after if error.retry_after is not None else self._probe_every
            self._pauses.defer_key_probe(key, _now() + timedelta(seconds=wait))
            return False
        except ProductlaneError as error:
            refused = key_problem(error)
            if refused is None:
                log.info("checking the Productlane key failed (%s); checking again later", _code(error))
            else:
                self._pauses.update_key_problem(key, *refused)
            return False
        if not me.has_scope(WRITE_SCOPE):
            self._pauses.update_key_problem(
                key, "scope_required", missing_scope_message([WRITE_SCOPE], me.scopes)
            )
            return False
        waiting = self._outbox.waiting_count()
        if self._pauses.clear_key_problem(key):
            log.warning(
                "Productlane accepts the API key again (workspace %s): delivery resumes, "
                "%d submission(s) waiting",
                me.workspace_id,
                waiting,
            )
        self._alerted_at = None
        self._wake.set()
        return True

    def _alert(self, paused: KeyProblem) -> None:
        """The operator must act: say so loudly, but at most once per `alert_every_seconds`."""
        now = time.monotonic()
        if self._alerted_at is not None and now - self._alerted_at < self._alert_every:
            return
        self._alerted_at = now
        log.error(
            "Delivery to Productlane is paused: %s %d submission(s) wait and will be sent by "
            "themselves once the key works (checked every %g s), or at once after a restart with a "
            "working key.",
            paused.message,
            self._outbox.waiting_count(),
            self._probe_every,
        )

    def _tell_waiting_submitters(self, paused: KeyProblem) -> None:
        """Each waiting submitter hears once that their feedback is saved and will be sent."""
        now = time.monotonic()
        if now < max(self._notices_after, self._held_at + min(self._poll, 1.0)):
            return
        self._held_at = now
        held = self._outbox.hold_for_operator(f"waiting for the operator: {paused.message}")
        for index, item in enumerate(held):
            try:
                submission = Submission.model_validate(item.payload)
                self._notifier.waiting_for_operator(submission)
            except PostLater as later:
                # Slack cannot take it now: these submitters hear on a later pass instead.
                self._outbox.forget_delayed_notice([other.id for other in held[index:]])
                self._notices_after = now + (
                    later.retry_after if later.retry_after is not None else NOTICE_PAUSE_SECONDS
                )
                log.info("telling submitters about the pause must wait (%s)", later.reason)
                return
            except Exception:
                log.exception("item %s: could not tell the submitter about the pause", item.id)

    def _pause_for_key(self, item: OutboxItem, refused: tuple[str, str], *, nothing_sent: bool) -> None:
        """This item's request was refused for the key, not for itself: keep it, pause writes."""
        code, message = refused
        metrics.delivery_paused()
        if self._pauses.record_key_problem(
            self._limiter_key, code, message, probe_at=_now() + timedelta(seconds=self._probe_every)
        ):
            log.info("Productlane refused the API key (%s): pausing delivery on every replica", code)
        # Due at once: it goes the moment the pause lifts. Claims skip it until then.
        self._outbox.schedule_retry(
            item.id,
            self._claimer(),
            _now(),
            f"waiting for the operator: {message}",
            nothing_sent=nothing_sent,
        )
        paused = self.key_problem()
        if paused is not None:
            self._while_paused(paused)

    # --- one item ------------------------------------------------------------------------------
    def _settle(self, item: OutboxItem) -> None:
        try:
            submission = Submission.model_validate(item.payload)
        except ModelValidationError:
            log.error("outbox item %s is unreadable; marking it failed", item.id)
            self._outbox.mark_failed(item.id, self._claimer(), "unreadable payload")
            return
        if item.kind == UPDATE_KIND:
            self._settle_update(item, submission)
            return
        if item.result and item.result.get("thread_id"):
            # An earlier claim created the thread: only the confirmation is left to post.
            self._confirm_again(item, submission)
            return
        if self._withdraw(item, submission):
            return
        captured = self._capture(item, submission)
        if captured is None:
            return
        try:
            request = self._composer.compose(submission, captured)
        except ModelValidationError as error:
            problem = "; ".join(str(e["msg"]) for e in error.errors(include_input=False))
            self._fail(item, submission, f"the feedback could not be composed ({problem}).")
            return
        except Exception:
            log.exception("composing item %s failed; will retry", item.id)
            self._retry(item, submission, "compose failed", notify=_age(item) > 60, before_send=True)
            return
        if item.first_sent_at is not None:
            # An earlier attempt may have created the thread: look before sending again.
            try:
                existing = self._find_existing(request, submission.reference, item.first_sent_at)
            except AuthenticationError as error:
                refused = key_problem(error)
                assert refused is not None  # noqa: S101 - every AuthenticationError is one
                self._pause_for_key(item, refused, nothing_sent=False)
                return
            except ProductlaneError as error:
                self._retry(item, submission, f"search: {error.code}", notify=True, before_send=True)
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
            if not self._wait_for_write_slot(item):
                return
            if not self._outbox.mark_attempt(item.id, self._claimer(), lease_seconds=self._lease):
                log.warning("item %s: lease lost before sending; another worker has it", item.id)
                return
            try:
                thread = self._productlane.create_thread(request)
            except RateLimitedError as error:
                wait = error.retry_after if error.retry_after is not None else 60.0
                self._limits.pause_writes(self._limiter_key, _now() + timedelta(seconds=wait))
                self._retry(item, submission, "rate_limited", notify=item.attempts >= 3, delay=wait)
            except (NetworkError, OutcomeUnknownError, ServerError) as error:
                self._retry(item, submission, error.code or type(error).__name__, notify=True)
            except ProductlaneError as error:
                refused = key_problem(error)
                stale = stale_fields(error, present(request)) if refused is None else set()
                if stale:
                    # A choice deleted since it was made: send without it rather than fail, and say so.
                    names = sorted(stale, key=CREATE_FIELDS.index)
                    log.info("item %s: Productlane no longer knows its %s; sending without", item.id, names)
                    notes += [dropped_note(name, submission.form, names_shown(request)) for name in names]
                    dropped += names
                    request = without_fields(request, names)
                    continue
                if refused is None:
                    self._fail(item, submission, error.user_message)
                else:
                    # A definite refusal: if this was the first send, no thread can exist.
                    self._pause_for_key(item, refused, nothing_sent=item.first_sent_at is None)
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
        if self._outbox.discard(item.id, self._claimer()):
            log.info("item %s not sent and dropped: %s", item.id, reason)
        return True

    # --- "Edit details": change a thread that exists ---------------------------------------------
    def _settle_update(self, item: OutboxItem, edit: Submission) -> None:
        """PATCH the thread another item created, then refresh that item's confirmation. A PATCH
        sends the same values again safely, so it is simply retried after any passing failure."""
        original_id = edit.edits_item_id or ""
        original_item = self._outbox.get(int(original_id)) if original_id.isdigit() else None
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
            self._outbox.mark_failed(item.id, self._claimer(), "the feedback it changes was never sent")
            return
        thread_id = (original_item.result or {}).get("thread_id")
        if not thread_id:
            self._outbox.schedule_retry(
                item.id, self._claimer(), _now() + timedelta(seconds=5), "waiting for the thread to exist"
            )
            return
        try:
            change = self._composer.update(edit)
        except Exception:
            log.exception("composing the change of item %s failed; will retry", item.id)
            self._retry(item, edit, "compose failed", notify=False, before_send=True)
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
            if self._paused_for_step(item, result, "link"):
                return
            linked = self._links.run(
                str(thread_id),
                issue,
                edit.form,
                result,
                take_slot=lambda: self._wait_for_write_slot(item),
                save=lambda kept: self._outbox.record_thread(item.id, self._claimer(), kept),
                named=named,
                attempts=item.attempts + 1,
            )
            kept = self._after_step(item, linked, "link")
            if kept is None:
                return
            result = {**kept, "edit_notes": [*(kept.get("edit_notes") or []), *linked.notes]}
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
            landed = self._notifier.updated(
                edit,
                shown,
                request,
                str(result["url"]),
                PostedMessage(**reply) if isinstance(reply, dict) else None,
                notes,
            )
        except PostLater as later:
            self._confirm_later(item, result, later)
            return
        except Exception:
            log.exception("item %s: thread updated, but refreshing the Slack reply failed", item.id)
            landed = None
        # Told again with the new title and pain level, so later status edits of the reply keep them.
        self._finish(item, result, landed, (shown, request))

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
        return self._applied(original.model_copy(update={"form": form}), {})

    def _patch(
        self, item: OutboxItem, edit: Submission, thread_id: str, change: UpdateThread, named: bool
    ) -> tuple[list[str], list[str]] | None:
        """Send the change; the fields left out of it because Productlane no longer knows their
        choice, with a note each, when Productlane took it. None: the item was settled here."""
        dropped: list[str] = []
        notes: list[str] = []
        while True:
            if not self._wait_for_write_slot(item):
                return None
            if not self._outbox.mark_attempt(item.id, self._claimer(), lease_seconds=self._lease):
                return None
            try:
                self._productlane.update_thread(thread_id, change)
            except RateLimitedError as error:
                wait = error.retry_after if error.retry_after is not None else 60.0
                self._limits.pause_writes(self._limiter_key, _now() + timedelta(seconds=wait))
                self._retry(item, edit, "rate_limited", notify=False, delay=wait)
                return None
            except (NetworkError, OutcomeUnknownError, ServerError) as error:
                self._retry(item, edit, error.code or type(error).__name__, notify=False)
                return None
            except ProductlaneError as error:
                refused = key_problem(error)
                if refused is not None:
                    self._pause_for_key(item, refused, nothing_sent=False)
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
                self._outbox.mark_failed(item.id, self._claimer(), problem[:500])
                try:
                    self._notifier.edit_refused(edit, problem)
                except Exception:
                    log.exception("item %s: could not tell the editor about the refusal", item.id)
                return None
            return dropped, notes

    def _capture(self, item: OutboxItem, submission: Submission) -> Captured | None:
        """The Slack thread (when asked for) and the files copied into Productlane; None when the
        item must wait (it is rescheduled here) or is no longer this worker's."""
        if self._gatherer is None or self._copier is None:
            return Captured()
        try:
            gathered = self._gatherer.gather(submission)
            copies = copy_item_files(
                self._copier, self._outbox, item, gathered.files, self._claimer(), self._lease
            )
        except TryLater as later:
            self._retry(
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
            self._outbox.schedule_retry(
                item.id, self._claimer(), _now() + timedelta(seconds=later.wait), later.reason
            )
            return None
        except LeaseLost:
            log.warning("item %s: lease lost while copying its files; another worker has it", item.id)
            return None
        except KeyRefused as refused:
            problem = key_problem(refused.error)
            if problem is None:  # every KeyRefused carries an AuthenticationError, which is one
                self._retry(item, submission, "upload refused", notify=False, before_send=True)
            else:
                self._pause_for_key(item, problem, nothing_sent=False)
            return None
        return Captured(
            thread=gathered.thread,
            thread_problem=gathered.thread_problem,
            copies=copies,
            files=gathered.files,
        )

    def _wait_for_write_slot(self, item: OutboxItem) -> bool:
        """Hold the item until the shared limiter allows a write; give it back if that is long."""
        while True:
            wait = self._limits.reserve_write_slot(
                self._limiter_key, rate_per_minute=self._rate, burst=self._burst
            )
            if wait <= 0:
                return True
            if wait > self._lease / 2 or self._stopping.is_set():
                self._outbox.schedule_retry(
                    item.id, self._claimer(), _now() + timedelta(seconds=wait), "waiting for rate limit"
                )
                return False
            time.sleep(wait)

    def _find_existing(self, request: CreateThread, reference: str, first_sent_at: datetime) -> Thread | None:
        cursor: str | None = None
        for _ in range(SEARCH_PAGES):
            page = self._productlane.list_threads(
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
        }
        if notes:
            result["notes"] = list(notes)
        if dropped:
            result["triage_dropped"] = list(dropped)
        # Recorded before Slack hears of it: whatever happens to the reply, no retry sends again.
        if not self._outbox.record_thread(item.id, self._claimer(), result):
            # Whoever holds the item now finds this thread before sending, and confirms it.
            log.warning("item %s: lease lost before thread %s was recorded", item.id, thread.id)
            return
        if submission.source is not None:
            # The duplicate guard's record: the next person to point at this message is told.
            record_sent(
                self._outbox.database,
                submission.source.channel_id,
                submission.source.ts,
                thread_id=thread.id,
                thread_url=str(result["url"]),
                submitter_id=submission.submitter_id,
            )
        log.info("item %s delivered as thread %s", item.id, thread.id)
        metrics.delivered(item.created_at)
        tagged = self._set_tags(item, submission, request, result)
        if tagged is not None:
            self._confirm(item, submission, request, tagged)

    def _confirm_again(self, item: OutboxItem, submission: Submission) -> None:
        result = dict(item.result or {})
        try:
            request = self._composer.compose(submission)
        except ModelValidationError:
            # It composed when the thread was created; if it no longer does, stop trying.
            log.error("item %s: its confirmation can no longer be composed; giving it up", item.id)
            self._finish(item, result, None, None)
            return
        except Exception:
            log.exception("composing the confirmation of item %s failed; will retry", item.id)
            self._confirm_later(item, result, PostLater("compose failed"))
            return
        request = without_fields(request, result.get("triage_dropped") or ())
        if result.get("tags_state") != "done" and submission.form.tag_ids:
            # Taken over before its tags were set (a crash, a wait for the budget): set them now.
            tagged = self._set_tags(item, submission, request, result)
            if tagged is None:
                return
            result = tagged
        # An earlier attempt may have posted it and not lived to record it (a crash leaves no
        # answer recorded), or Slack never answered it: never post it twice. A refusal Slack
        # answered (rate limited) posted nothing, and the thread is not read again for it.
        already = None
        if result.get("reply_maybe_posted", True):
            try:
                already = self._notifier.find_delivered(submission, str(result.get("url")))
            except Exception:
                log.exception("item %s: could not look for its confirmation in Slack", item.id)
        if already is not None:
            log.info("item %s: its confirmation is already in Slack; not posting it again", item.id)
            self._finish(item, result, already, (submission, request))
            return
        self._confirm(item, submission, request, result)

    def _confirm(
        self, item: OutboxItem, submission: Submission, request: CreateThread, result: dict[str, Any]
    ) -> None:
        # The confirmation shows what Productlane got: no field it refused, the tags it took.
        submission = self._applied(submission, result)
        try:
            notes = [str(note) for note in result.get("notes") or []]
            landed = self._notifier.delivered(submission, request, str(result.get("url")), notes)
        except PostLater as later:
            self._confirm_later(item, result, later)
            return
        except Exception:
            log.exception("item %s: delivered, but the Slack reply failed", item.id)
            landed = None
        self._finish(item, result, landed, (submission, request))

    def _applied(self, submission: Submission, result: dict[str, Any]) -> Submission:
        names = self._triage.names(submission.form) if self._triage is not None else {}
        return applied(submission, result, names)

    def _set_tags(
        self, item: OutboxItem, submission: Submission, request: CreateThread, result: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The tags, by PATCH once the thread exists (Productlane takes none on create).
        The result to confirm with; None when the item was given back to wait (or is no longer
        this worker's)."""
        if not submission.form.tag_ids or result.get("tags_state") == "done":
            return result
        if self._paused_for_step(item, result, "tags"):
            return None
        names = self._applied(submission, {}).form.triage_names
        outcome = self._tags.run(
            str(result["thread_id"]),
            submission.form.tag_ids,
            result,
            take_slot=lambda: self._wait_for_write_slot(item),
            save=lambda kept: self._outbox.record_thread(item.id, self._claimer(), kept),
            names=names if names_shown(request) else None,
        )
        kept = self._after_step(item, outcome, "tags")
        if kept is None or not outcome.notes:
            return kept
        return {**kept, "notes": [*(kept.get("notes") or []), *outcome.notes]}

    def _paused_for_step(self, item: OutboxItem, result: dict[str, Any], step: str) -> bool:
        """While writes are paused for the key, a write after the create waits with its thread."""
        if self.key_problem() is None:
            return False
        later = _now() + timedelta(seconds=self._probe_every)
        self._outbox.schedule_retry(
            item.id, self._claimer(), later, f"{step}: waiting for the operator", result=result
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
                self._limits.pause_writes(self._limiter_key, _now() + timedelta(seconds=wait))
            log.info("item %s: %s waits (%s); again in %.1f s", item.id, step, outcome.reason, wait)
        else:  # refused: the key itself, as for a create
            wait = self._probe_every
            refused = key_problem(outcome.error) if outcome.error is not None else None
            if refused is not None:
                self._pauses.record_key_problem(
                    self._limiter_key, *refused, probe_at=_now() + timedelta(seconds=self._probe_every)
                )
        self._outbox.schedule_retry(
            item.id,
            self._claimer(),
            _now() + timedelta(seconds=wait),
            f"{step}: {outcome.reason or outcome.kind}",
            result=outcome.result,
        )
        return None

    def _confirm_later(self, item: OutboxItem, result: dict[str, Any], later: PostLater) -> None:
        tries = int(result.get("reply_attempts") or 0) + 1
        wait = later.retry_after if later.retry_after is not None else self._backoff(tries)
        log.info(
            "item %s: the confirmation must wait (%s); posting it in %.1f s", item.id, later.reason, wait
        )
        self._outbox.schedule_retry(
            item.id,
            self._claimer(),
            _now() + timedelta(seconds=wait),
            f"confirmation in Slack: {later.reason}",
            result={**result, "reply_attempts": tries, "reply_maybe_posted": later.maybe_posted},
        )

    def _finish(
        self,
        item: OutboxItem,
        result: dict[str, Any],
        landed: PostedMessage | None,
        confirmed: tuple[Submission, CreateThread] | None,
    ) -> None:
        final = {key: value for key, value in result.items() if key not in _RETRY_KEYS}
        # Where the confirmation is, so later news about the thread can go under it.
        final["reply"] = landed.as_json() if landed is not None else None
        if not self._outbox.mark_delivered(item.id, self._claimer(), final):
            log.warning("item %s: lease lost before it was marked delivered", item.id)
            return
        if confirmed is not None and self._on_confirmed is not None:
            try:
                self._on_confirmed(*confirmed, final)
            except Exception:
                log.exception("item %s: delivered; what follows the confirmation failed", item.id)

    def _retry(
        self,
        item: OutboxItem,
        submission: Submission,
        reason: str,
        *,
        notify: bool,
        delay: float | None = None,
        before_send: bool = False,
    ) -> None:
        if delay is not None:
            wait = delay
        elif before_send:
            # No attempt was counted, so back off by how long the item has waited instead.
            wait = min(BACKOFF_MAX, max(BACKOFF_FIRST, _age(item) / 4))
        else:
            wait = self._backoff(item.attempts + 1)
        log.info("item %s: %s; retrying in %.1f s", item.id, reason, wait)
        metrics.delivery_retried()
        self._outbox.schedule_retry(item.id, self._claimer(), _now() + timedelta(seconds=wait), reason)
        # Only the one worker whose call sets the flag tells the submitter, so they hear it once.
        if notify and not item.delayed_notice_sent and self._outbox.mark_delayed_notice_sent(item.id):
            try:
                self._notifier.delayed(submission)
            except Exception:
                log.exception("item %s: could not send the delay notice", item.id)

    def _fail(self, item: OutboxItem, submission: Submission, problem: str) -> None:
        log.warning("item %s refused by Productlane: %s", item.id, problem)
        metrics.delivery_refused(item.created_at)
        self._outbox.mark_failed(item.id, self._claimer(), problem[:500])
        try:
            self._notifier.failed(submission, str(item.id), problem)
        except Exception:
            log.exception("item %s: could not tell the submitter about the refusal", item.id)


def _now() -> datetime:
    return datetime.now(UTC)


def _readable(item: OutboxItem | None) -> Submission | None:
    if item is None:
        return None
    try:
        return Submission.model_validate(item.payload)
    except ModelValidationError:
        return None


def _code(error: ProductlaneError) -> str:
    return error.code or type(error).__name__


def _age(item: OutboxItem) -> float:
    return (_now() - item.created_at).total_seconds()

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

This module runs the sender threads and hands each claimed item to the part that settles it:
`creating` (create the thread), `triage_steps` (its tags and links), `editing` ("Edit details"),
`confirming` (the reply in Slack) and `pause_tending` (the key pause); `sending` is what they share
about a claimed item, and `wiring` what the worker is built from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError as ModelValidationError

from bot.background import BackgroundThreads, RepeatedFailureLog
from bot.budgets.key_pause import KeyProblem
from bot.delivery.confirming import Confirmations
from bot.delivery.creating import ThreadCreation
from bot.delivery.editing import ThreadEdits
from bot.delivery.intake import UPDATE_KIND
from bot.delivery.outbox import Outbox, OutboxItem
from bot.delivery.pause_tending import PauseTending
from bot.delivery.sending import Sending
from bot.delivery.triage_steps import TriageSteps
from bot.delivery.wiring import (
    Composer,
    Confirmed,
    Gatherer,
    Notifier,
    SlackSide,
    TriageNames,
    WorkerSettings,
)
from bot.feedback.submission import Submission
from bot.logs import outbox_item
from bot.productlane import ProductlaneClient

# What building a worker takes, importable from the worker itself.
__all__ = [
    "Composer",
    "Confirmed",
    "DeliveryWorker",
    "Gatherer",
    "Notifier",
    "SlackSide",
    "TriageNames",
    "WorkerSettings",
]

log = logging.getLogger(__name__)


class DeliveryWorker:
    """Sender threads that claim outbox items and deliver them."""

    def __init__(
        self,
        outbox: Outbox,
        productlane: ProductlaneClient,
        composer: Composer,
        slack: SlackSide,
        thread_url: Callable[[str], str],
        *,
        settings: WorkerSettings,
        on_confirmed: Confirmed | None = None,
        triage: TriageNames | None = None,
    ) -> None:
        self._outbox = outbox
        self._settings = settings
        self._threads = BackgroundThreads()
        self._pass_failures = RepeatedFailureLog(log, "delivery pass")
        self._wake = self._threads.wake
        self._stopping = self._threads.stopping
        self._sending = Sending(outbox, productlane, slack.notifier, settings, self._stopping)
        self.owner = self._sending.owner
        self._pause = PauseTending(self._sending, self._wake)
        # Triage: names for the confirmation, and tags and a link set by a write each, once.
        steps = TriageSteps(self._sending, self._pause, triage)
        confirmations = Confirmations(self._sending, steps, composer, on_confirmed)
        self._confirmations = confirmations
        self._creation = ThreadCreation(
            self._sending, self._pause, confirmations, composer, slack, thread_url
        )
        self._edits = ThreadEdits(
            self._sending, self._pause, steps, confirmations, composer, thread_url, triage
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
        return self._pause.key_problem()

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._pass():
                self._threads.idle(self._settings.poll_interval)

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
            self._threads.idle(self._settings.poll_interval)

    def _pass(self) -> bool:
        """Deliver one due item; True when there was one (then one more sender may help)."""
        try:
            delivered_any = self.deliver_due(limit=1) > 0
        except Exception as error:
            self._pass_failures.failed(error)
            return False
        self._pass_failures.worked()
        senders = self._settings.senders
        if delivered_any and senders > 1:
            self._threads.add_helper([f"delivery-{index}" for index in range(1, senders)], self._help)
        return delivered_any

    def deliver_due(self, limit: int = 10) -> int:
        """Claim up to `limit` due items and settle each. Returns how many were claimed.

        While the key is refused, only confirmations of threads that already exist are claimed.
        """
        paused = self._pause.current()
        items = self._outbox.claim(
            self._sending.claimer(),
            limit=limit,
            lease_seconds=self._settings.lease_seconds,
            replies_only=paused is not None,
        )
        for item in items:
            with outbox_item(item.id):  # its log entries carry the item's id (LOG_FORMAT=json)
                self._settle(item)
        return len(items)

    # --- one item ------------------------------------------------------------------------------
    def _settle(self, item: OutboxItem) -> None:
        try:
            submission = Submission.model_validate(item.payload)
        except ModelValidationError:
            log.error("outbox item %s is unreadable; marking it failed", item.id)
            self._outbox.mark_failed(item.id, self._sending.claimer(), "unreadable payload")
            return
        if item.kind == UPDATE_KIND:
            self._edits.settle(item, submission)
            return
        if item.result and item.result.get("thread_id"):
            # An earlier claim created the thread: only the confirmation is left to post.
            self._confirmations.confirm_again(item, submission)
            return
        self._creation.settle(item, submission)

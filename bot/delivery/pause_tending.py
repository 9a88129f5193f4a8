"""The delivery worker's side of the key pause: while Productlane refuses the API key itself, writes
pause on every replica, the operator is told what to fix at most once per `alert_every_seconds`,
each waiting submitter hears once that their feedback is saved, and one replica checks the key
(GET /me) every `key_probe_seconds` until it works, when delivery resumes by itself."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from bot import metrics
from bot.budgets.key_pause import WRITE_SCOPE, KeyPause, KeyProblem, key_problem, missing_scope_message
from bot.delivery.outbox import OutboxItem
from bot.delivery.sending import WORKER_LOGGER, Sending, now
from bot.feedback.posted import PostLater
from bot.feedback.submission import Submission
from bot.productlane import ProductlaneError, RateLimitedError

log = logging.getLogger(WORKER_LOGGER)

# After Slack refused a "saved, will be sent" notice for now, when no Retry-After says how long.
NOTICE_PAUSE_SECONDS = 30.0


class PauseTending:
    """Pause, tell, probe: the key's pause as this worker's sender threads keep it."""

    def __init__(self, sending: Sending, wake: threading.Event) -> None:
        self._sending = sending
        self._pauses = KeyPause(sending.outbox.database)
        self._key = sending.settings.limiter_key
        self._probe_every = sending.settings.key_probe_seconds
        self._alert_every = sending.settings.alert_every_seconds
        self._poll = sending.settings.poll_interval
        self._wake = wake
        # While the key is refused: one sender thread at a time tends the pause.
        self._lock = threading.Lock()
        self._just_started = True  # check a stored pause at once: the key may have been replaced
        self._alerted_at: float | None = None
        self._held_at = 0.0
        self._notices_after = 0.0

    @property
    def probe_every(self) -> float:
        return self._probe_every

    def key_problem(self) -> KeyProblem | None:
        """The pause of every replica's writes while Productlane refuses the API key, if any."""
        return self._pauses.key_problem(self._key)

    def current(self) -> KeyProblem | None:
        """The pause in force for this pass, tended first (None: writes may go ahead)."""
        paused = self.key_problem()
        if paused is None:
            self._just_started = False
            return None
        return self._tend(paused)

    def record(self, refused: tuple[str, str]) -> bool:
        """Pause writes on every replica for ``refused``; True when this call started the pause."""
        code, message = refused
        return self._pauses.record_key_problem(
            self._key, code, message, probe_at=now() + timedelta(seconds=self._probe_every)
        )

    def pause_for(self, item: OutboxItem, refused: tuple[str, str], *, nothing_sent: bool) -> None:
        """This item's request was refused for the key, not for itself: keep it, pause writes."""
        code, message = refused
        metrics.delivery_paused()
        if self.record(refused):
            log.info("Productlane refused the API key (%s): pausing delivery on every replica", code)
        # Due at once: it goes the moment the pause lifts. Claims skip it until then.
        self._sending.outbox.schedule_retry(
            item.id,
            self._sending.claimer(),
            now(),
            f"waiting for the operator: {message}",
            nothing_sent=nothing_sent,
        )
        paused = self.key_problem()
        if paused is not None:
            self._tend(paused)

    def _tend(self, paused: KeyProblem) -> KeyProblem | None:
        """Tend the pause; the pause still in force afterwards (None: the key works again)."""
        if not self._lock.acquire(blocking=False):
            return paused  # another sender thread of this process is at it
        try:
            force, self._just_started = self._just_started, False
            if (force or paused.probe_at <= now()) and self._pauses.claim_key_probe(
                self._key, self._probe_every, force=force
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
            self._lock.release()

    def _probe_key(self) -> bool:
        """GET /me: True when the key works with threads:write again (writes resume everywhere)."""
        key = self._key
        try:
            me = self._sending.productlane.me()
        except RateLimitedError as error:
            wait = error.retry_after if error.retry_after is not None else self._probe_every
            self._pauses.defer_key_probe(key, now() + timedelta(seconds=wait))
            return False
        except ProductlaneError as error:
            refused = key_problem(error)
            if refused is None:
                log.info(
                    "checking the Productlane key failed (%s); checking again later",
                    error.code or type(error).__name__,
                )
            else:
                self._pauses.update_key_problem(key, *refused)
            return False
        if not me.has_scope(WRITE_SCOPE):
            self._pauses.update_key_problem(
                key, "scope_required", missing_scope_message([WRITE_SCOPE], me.scopes)
            )
            return False
        waiting = self._sending.outbox.waiting_count()
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
        at = time.monotonic()
        if self._alerted_at is not None and at - self._alerted_at < self._alert_every:
            return
        self._alerted_at = at
        log.error(
            "Delivery to Productlane is paused: %s %d submission(s) wait and will be sent by "
            "themselves once the key works (checked every %g s), or at once after a restart with a "
            "working key.",
            paused.message,
            self._sending.outbox.waiting_count(),
            self._probe_every,
        )

    def _tell_waiting_submitters(self, paused: KeyProblem) -> None:
        """Each waiting submitter hears once that their feedback is saved and will be sent."""
        at = time.monotonic()
        if at < max(self._notices_after, self._held_at + min(self._poll, 1.0)):
            return
        self._held_at = at
        outbox = self._sending.outbox
        held = outbox.hold_for_operator(f"waiting for the operator: {paused.message}")
        for index, item in enumerate(held):
            try:
                submission = Submission.model_validate(item.payload)
                self._sending.notifier.waiting_for_operator(submission)
            except PostLater as later:
                # Slack cannot take it now: these submitters hear on a later pass instead.
                outbox.forget_delayed_notice([other.id for other in held[index:]])
                self._notices_after = at + (
                    later.retry_after if later.retry_after is not None else NOTICE_PAUSE_SECONDS
                )
                log.info("telling submitters about the pause must wait (%s)", later.reason)
                return
            except Exception:
                log.exception("item %s: could not tell the submitter about the pause", item.id)

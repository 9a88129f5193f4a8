"""The updates worker: applies stored events, carries their effects to Slack, and polls when
there are no webhooks. It never blocks a Slack ack: it only shares the database with them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Literal, NamedTuple

from pydantic import ValidationError

from bot import metrics
from bot.background import BackgroundThreads, RepeatedFailureLog, idle_until_due
from bot.productlane import NotFoundError, ProductlaneClient, ProductlaneError, ScopeError
from bot.updates.decide import Switches
from bot.updates.events import (
    Change,
    LinkAdded,
    MessageSent,
    NeedLink,
    TargetCompleted,
    ThreadSnapshot,
    WebhookEvent,
    change_of,
)
from bot.updates.names import NameLookup
from bot.updates.render import confirmation_with_status
from bot.updates.shown import NOT_FOR_SHARED, NOT_KNOWN_YET, Withheld, edit_as_shown, post_as_shown
from bot.updates.slack_side import SlackOutcome, SlackThreadUpdater
from bot.updates.store import StoredEffect, StoredEvent, UpdatesStore

__all__ = ["EffectSender", "EventApplier", "Poller", "UpdatesWorker"]

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
BATCH = 20
# Effects are claimed a few at a time: each Slack call may take 10 s (twice, with slack_sdk's
# retry on a dropped connection), and the whole batch must be sent before its lease runs out, or
# another replica could post the same milestone again.
EFFECT_BATCH = 3
EFFECT_LEASE_SECONDS = 120.0
MAX_EFFECT_ATTEMPTS = 10
BACKOFF_MAX = 300.0
# Reads the poller may spend per minute, across replicas (Productlane allows 1,000 GETs a minute
# per key; the rest is left to delivery and name look-ups).
POLL_READS_PER_MINUTE = 300
POLL_WINDOW = timedelta(days=90)
PRUNE_AFTER = timedelta(days=7)
PRUNE_EVERY = 3600.0


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """2 s, 4 s, 8 s … capped at 5 min, with jitter in [base/2, base]."""
    base = min(BACKOFF_MAX, 2.0 ** max(1, attempts))
    return base / 2 + base / 2 * rng()


def _never(_: str) -> bool:
    return False


def _always(_: str) -> bool:
    return True


class EventApplier:
    """Claims stored events and applies each once (see `UpdatesStore.apply`).

    ``bot_wrote(message_id)``: whether the bot itself created that message or comment in
    Productlane (a follow-up from Slack), which must never come back to Slack.
    ``replies_in(channel_id)``: whether the channel's settings let the team's replies in.
    """

    def __init__(
        self,
        store: UpdatesStore,
        names: NameLookup,
        switches: Switches,
        *,
        bot_wrote: Callable[[str], bool] = _never,
        replies_in: Callable[[str], bool] = _always,
    ) -> None:
        self._store = store
        self._names = names
        self._switches = switches
        self._bot_wrote = bot_wrote
        self._replies_in = replies_in

    def apply_due(self, owner: str, limit: int = BATCH) -> int:
        claimed = self._store.claim_events(owner, limit, LEASE_SECONDS)
        for event in claimed:
            self._apply(event, owner)
        return len(claimed)

    def _apply(self, event: StoredEvent, owner: str) -> None:
        try:
            change = change_of(WebhookEvent.model_validate(event.payload))
        except ValidationError:
            change = None
        try:
            if change is not None:
                change = self._screened(self._with_names(change))
            outcome = self._store.apply(event, owner, change, self._switches)
        except Exception as error:
            wait = backoff(event.attempts)
            log.exception("applying Productlane event %s failed; retrying in %.0f s", event.event_id, wait)
            self._store.retry_event(event, owner, self._store.now() + timedelta(seconds=wait), repr(error))
            return
        if outcome is None:
            log.warning("Productlane event %s: lease lost; another worker applies it", event.event_id)
        else:
            log.info("Productlane event %s (%s): %s", event.event_id, event.event_type, outcome)
            metrics.productlane_event_applied(event.event_id)

    def _screened(self, change: Change) -> Change:
        """What only the bot's own records tell about a team reply: that the bot wrote it (no
        echo), or that its channel turned replies off."""
        if not isinstance(change, MessageSent):
            return change
        side = self._store.slack_side(change.thread_id)
        if side is None:
            return change  # not a thread the bot created: nothing happens anyway
        if self._bot_wrote(change.message_id):
            return replace(change, skip="the bot wrote it (a follow-up from Slack)")
        if not self._replies_in(side.channel_id):
            return replace(change, skip="the channel's settings turn the team's replies off")
        return change

    def _with_names(self, change: Change) -> Change:
        """Fill in issue and project names, asking Productlane only about the bot's own threads."""
        if isinstance(change, LinkAdded):
            need = change.need
            if not self._store.is_remembered(need.thread_id):
                return change
            return LinkAdded(self._named(need))
        if isinstance(change, ThreadSnapshot) and change.needs:
            if not self._store.is_remembered(change.thread_id):
                return change
            known = self._store.known_links(change.thread_id)
            needs = tuple(need if need.need_id in known else self._named(need) for need in change.needs)
            return replace(change, needs=needs)
        if isinstance(change, TargetCompleted) and change.name is None:
            if not self._store.is_linked(change.kind, change.target_id):
                return change
            return replace(change, name=self._name(change.kind, change.target_id))
        return change

    def _named(self, need: NeedLink) -> NeedLink:
        return replace(
            need,
            issue_name=need.issue_name or self._name("issue", need.issue_id),
            project_name=need.project_name or self._name("project", need.project_id),
        )

    def _name(self, kind: Literal["issue", "project"], target_id: str | None) -> str | None:
        if target_id is None:
            return None
        return self._store.known_name(kind, target_id) or self._names.name(kind, target_id)


class EffectSender:
    """Claims queued Slack effects and sends them: retry what can be retried, drop the rest."""

    def __init__(
        self,
        store: UpdatesStore,
        slack: SlackThreadUpdater,
        *,
        max_attempts: int = MAX_EFFECT_ATTEMPTS,
        backoff: Callable[[int], float] = backoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._slack = slack
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._clock = clock
        self._paused_until = 0.0

    def send_due(self, owner: str, limit: int = EFFECT_BATCH) -> int:
        if self._clock() < self._paused_until:
            return 0
        claimed = self._store.claim_effects(owner, limit, EFFECT_LEASE_SECONDS)
        for index, effect in enumerate(claimed):
            pause = self._paused_until - self._clock()
            if pause > 0:
                # Slack said "slow down": the rest of the batch waits too, without an attempt counted.
                at = self._store.now() + timedelta(seconds=pause)
                for waiting in claimed[index:]:
                    self._store.effect_retry(
                        waiting, owner, at, "waiting: Slack rate limit", count_attempt=False
                    )
                break
            self._send(effect, owner)
        return len(claimed)

    def _send(self, effect: StoredEffect, owner: str) -> None:
        side = self._store.slack_side(effect.thread_id)
        if side is None:
            self._store.effect_dropped(effect, owner, "the thread is not remembered")
            return
        if effect.kind == "edit":
            if not side.reply_channel_id or not side.reply_ts:
                log.debug("thread %s: the confirmation's place is unknown; no edit", effect.thread_id)
                self._store.effect_dropped(effect, owner, "no confirmation message to edit")
                return
            if side.confirmation_forgotten:
                self._store.effect_dropped(
                    effect, owner, "the confirmation's words are no longer kept (OUTBOX_RETENTION_DAYS)"
                )
                return
            # Whether the channel is shared is asked now: it may have become so since the filing.
            # Where Slack does not say, the edit goes out as for a shared channel: it names nothing.
            audience = self._slack.channel_audience(side.reply_channel_id)
            reply = confirmation_with_status(*edit_as_shown(side, audience))
            outcome = self._slack.update(side.reply_channel_id, side.reply_ts, reply)
        else:
            text = post_as_shown(effect, self._slack.channel_audience(side.channel_id))
            if text is Withheld.DROP:
                log.info("thread %s: the team's reply kept out of a shared channel", effect.thread_id)
                self._store.effect_dropped(effect, owner, NOT_FOR_SHARED)
                return
            if text is Withheld.WAIT:
                # Not posted, not lost: the usual backoff asks Slack again; the thread's later
                # replies wait behind it, so they still arrive in order.
                outcome = SlackOutcome("retry", NOT_KNOWN_YET)
            else:
                outcome = self._slack.post(side.channel_id, side.thread_ts, text)
        self._settle(effect, owner, outcome)

    def _settle(self, effect: StoredEffect, owner: str, outcome: SlackOutcome) -> None:
        what = "edit of the confirmation" if effect.kind == "edit" else effect.effect_key.split(":", 1)[0]
        if outcome.kind == "sent":
            self._store.effect_sent(effect, owner)
            log.info("thread %s: %s sent to Slack", effect.thread_id, what)
            return
        if outcome.kind == "drop" or effect.attempts + 1 >= self._max_attempts:
            log.warning("thread %s: %s dropped: %s", effect.thread_id, what, outcome.reason)
            self._store.effect_dropped(effect, owner, outcome.reason)
            return
        wait = outcome.retry_after if outcome.retry_after is not None else self._backoff(effect.attempts + 1)
        if outcome.reason == "ratelimited":
            self._paused_until = self._clock() + wait
        log.info(
            "thread %s: %s not sent (%s); retrying in %.1f s", effect.thread_id, what, outcome.reason, wait
        )
        self._store.effect_retry(effect, owner, self._store.now() + timedelta(seconds=wait), outcome.reason)


POLL_TICK_SECONDS = 1.0
# Threads looked at between two rounds of applying events: what a poll found reaches Slack
# without waiting for the whole pass (up to 300 reads) to end.
POLL_BATCH = 10


class PollBatch(NamedTuple):
    stored: int
    more_due: bool


class Poller:
    """Without webhooks: looks at the threads the bot created that are not done, each once per
    interval, and stores what changed as events (the same path as a webhook's)."""

    def __init__(
        self,
        store: UpdatesStore,
        productlane: ProductlaneClient,
        interval: float,
        *,
        read_slot: Callable[[], float],
        window: timedelta = POLL_WINDOW,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._productlane = productlane
        self.interval = interval
        self._read_slot = read_slot
        self._window = window
        self._sleep = sleep
        self._max_per_pass = max(1, int(POLL_READS_PER_MINUTE * interval / 60))
        self._scope_warned = False

    def poll_due(self, stopping: threading.Event | None = None) -> int:
        """One pass: up to a budget of threads; returns how many new events it stored."""
        return self.poll_batch(self._max_per_pass, stopping).stored

    def poll_batch(self, limit: int, stopping: threading.Event | None = None) -> PollBatch:
        """Look at up to `limit` due threads: how many events it stored, and whether it stopped
        at the limit (more may be due)."""
        stored = 0
        for _ in range(limit):
            if stopping is not None and stopping.is_set():
                return PollBatch(stored, more_due=False)
            thread_id = self._store.claim_poll(self.interval, self._window)
            if thread_id is None:
                return PollBatch(stored, more_due=False)
            wait = self._read_slot()
            while 0 < wait <= 2.0:
                self._sleep(wait)
                wait = self._read_slot()
            if wait > 0:
                # The shared read budget is spent (maybe by another replica): next pass.
                self._store.release_poll(thread_id)
                return PollBatch(stored, more_due=False)
            try:
                stored += self._look_at(thread_id)
            except ScopeError:
                if not self._scope_warned:
                    log.warning(
                        "polling Productlane needs a key with threads:read; no updates until it has it"
                    )
                    self._scope_warned = True
                return PollBatch(stored, more_due=False)
            except ProductlaneError as error:
                log.info(
                    "polling thread %s failed (%s); next interval",
                    thread_id,
                    error.code or type(error).__name__,
                )
        return PollBatch(stored, more_due=True)

    def _look_at(self, thread_id: str) -> int:
        try:
            thread = self._productlane.get_thread(thread_id)
        except NotFoundError:
            event_id = f"poll:{thread_id}:removed"
            payload = {"id": event_id, "type": "thread.deleted", "data": {"id": thread_id}}
            return int(self._store.add_event(event_id, "thread.deleted", payload))
        data = thread.model_dump(mode="json")
        # The same snapshot twice is one event; a changed thread gives a new one.
        event_id = f"poll:{thread_id}:{data.get('updated_at')}"[:255]
        payload = {"id": event_id, "type": "thread.updated", "data": data}
        return int(self._store.add_event(event_id, "thread.updated", payload))


class UpdatesWorker:
    """One thread that applies events, sends their effects and, without webhooks, polls."""

    def __init__(
        self,
        store: UpdatesStore,
        applier: EventApplier,
        sender: EffectSender,
        poller: Poller | None = None,
        *,
        idle_interval: float = 1.0,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._applier = applier
        self._sender = sender
        self._poller = poller
        self._idle = idle_interval
        self.owner = owner or f"updates-{uuid.uuid4().hex[:8]}"
        self._threads = BackgroundThreads()
        self._pass_failures = RepeatedFailureLog(log, "updates pass")
        self._poll_failures = RepeatedFailureLog(log, "polling Productlane")
        self._wake = self._threads.wake
        self._stopping = self._threads.stopping
        self._last_prune = 0.0

    def wake(self) -> None:
        """An event was stored: stop waiting for the next idle tick."""
        self._wake.set()

    def start(self) -> None:
        self._threads.start([("updates", self._run)])

    def stop(self, timeout: float = 10.0) -> None:
        self._threads.stop(timeout)

    @property
    def running(self) -> bool:
        return self._threads.started

    def problems(self) -> list[str]:
        if self._threads.any_died():
            return ["the updates worker has stopped; restart the bot"]
        return []

    def run_once(self) -> int:
        """Apply the due events, then send the due effects; how many rows were worked on."""
        worked = self._applier.apply_due(self.owner)
        worked += self._sender.send_due(self.owner)
        return worked

    def _run(self) -> None:
        """One thread: polls (when polling) and applies what it and the webhooks stored."""
        poll = _PollSchedule(self._poller)
        while not self._stopping.is_set():
            worked = 0
            if poll.due():
                assert self._poller is not None  # noqa: S101 - due() only with a poller
                try:
                    batch = self._poller.poll_batch(POLL_BATCH, self._stopping)
                except Exception as error:
                    self._poll_failures.failed(error)
                    batch = PollBatch(0, more_due=False)
                else:
                    self._poll_failures.worked()
                poll.done(batch)
                worked += batch.stored
            try:
                worked += self.run_once()
                self._prune_now_and_then()
            except Exception as error:
                self._pass_failures.failed(error)
            else:
                self._pass_failures.worked()
            if not worked:
                self._threads.idle(poll.wait_at_most(self._until_next_pass()))

    def _until_next_pass(self) -> float:
        """The idle interval, or less when a retry comes due sooner: a reply Slack made wait is
        posted when its wait is over, not up to an idle interval later. One already due that was
        not taken (behind an earlier reply of its thread) is looked at after the idle interval."""
        try:
            due = self._store.next_retry_at()
        except Exception as error:
            self._pass_failures.failed(error)
            return self._idle
        due_in = None if due is None else (due - self._store.now()).total_seconds()
        return idle_until_due(due_in, self._idle)

    def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = time.monotonic()
        gone = self._store.prune(self._store.now() - PRUNE_AFTER)
        if gone:
            log.info("updates: forgot %d settled events and effects older than %s", gone, PRUNE_AFTER)


class _PollSchedule:
    """When the updates thread polls: each thread comes due one interval after its last look, so
    it looks for due ones every second (one indexed read when none is), a batch at a time until
    none is due or the shared read budget is spent. A pass per interval could show a change two
    intervals late."""

    def __init__(self, poller: Poller | None) -> None:
        self._poller = poller
        self._next_tick = time.monotonic()
        self._tick_started: float | None = None

    def due(self) -> bool:
        return self._poller is not None and time.monotonic() >= self._next_tick

    def done(self, batch: PollBatch) -> None:
        assert self._poller is not None  # noqa: S101 - only after a batch
        started = self._tick_started if self._tick_started is not None else time.monotonic()
        if batch.more_due:
            self._tick_started = started  # the next batch right after the events found so far
            return
        self._tick_started = None
        self._next_tick = started + min(self._poller.interval, POLL_TICK_SECONDS)

    def wait_at_most(self, idle: float) -> float:
        if self._poller is None:
            return idle
        return max(0.0, min(idle, self._next_tick - time.monotonic()))

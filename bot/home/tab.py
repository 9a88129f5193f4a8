"""The App Home tab: published for a person when they open it, and again when one of their submissions
changes (sent, refused, waiting, its status in Productlane) within the hour after they opened it.

Opening publishes at once, from the listener's thread (Slack acked the event already). Changes are
only noted where they happen (the delivery worker, the updates worker: an in-memory set, never a
wait); a thread of this tab's own, started when there is something to note and ending when nothing
is left, marks the Homes of those who are looking as stale in the shared database and publishes
them: at most once per `MIN_INTERVAL` per person (a burst of changes becomes one publish, whichever
replica saw them), and within a budget shared by every replica, well inside Slack's limit for
``views.publish`` (Tier 4: 100+ a minute per workspace), so people opening their Home are never the
ones refused. A 429 is waited out as Slack's Retry-After says.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot import metrics
from bot.background import RepeatedFailureLog
from bot.budgets.write_limits import WriteLimits
from bot.channels.model import ChannelSettingsSource, NoChannelSettings
from bot.conversation.store import FollowUpStore
from bot.delivery.health import DeliveryHealthReader
from bot.delivery.outbox import Outbox
from bot.feedback.submission import Submission
from bot.floods import FloodStore
from bot.home.model import AdminFacts
from bot.home.reading import SubmissionsReader
from bot.home.render import (
    HELD_SHOWN,
    WRITES_PER_MINUTE,
    channel_line,
    home_view,
    outsider_view,
    unavailable_view,
)
from bot.home.views import HomeViews
from bot.slack.admins import WorkspaceAdmins
from bot.slack.errors import is_transient, retry_after_seconds, slack_error_code
from bot.slack.lookups import SlackLookups
from bot.slack.team import OwnTeam, belongs
from bot.updates.store import UpdatesStore

__all__ = ["MIN_INTERVAL", "HomePacing", "HomeShows", "HomeSlack", "HomeTab", "update_mode_words"]

log = logging.getLogger(__name__)

MIN_INTERVAL = timedelta(seconds=5)
"""A person's Home is published again at most this often after a change."""
REPUBLISH_PER_MINUTE = 50
"""Republishes after changes, across replicas: half of Tier 4, the rest left for people opening."""
REPUBLISH_BURST = 5
CLAIM_BATCH = 10
RETRY_AFTER_FAILURE = 5.0
MIN_WAIT_SECONDS = 0.05


class Published(enum.Enum):
    YES = "yes"
    LATER = "later"
    """Slack cannot take it now (rate limited, its own trouble, no connection)."""
    REFUSED = "refused"
    """Slack refused it for good (e.g. the person left)."""


def update_mode_words(mode: str, poll_seconds: float) -> str:
    """How Productlane's changes reach Slack, in words for the admins' part of the Home."""
    if mode == "webhooks":
        return "webhooks"
    if mode == "polling":
        return f"polling every {poll_seconds:g} s (status only; 'shipped' needs webhooks)"
    return "off"


@dataclass(frozen=True, slots=True)
class HomeSlack:
    """The Home's side of Slack: where Homes are published, who is looking and whether they are one
    of ours, and which of them are the workspace's admins."""

    client: WebClient
    lookups: SlackLookups
    admins: WorkspaceAdmins
    ours: OwnTeam
    """The workspace (and organization) the bot is installed in; its publish budget is named after it."""
    workspace_name: str | None
    """Named to people of another workspace, who are shown nothing else."""


@dataclass(frozen=True, slots=True)
class HomeShows:
    """What the Home tells beside people's submissions: the reaction that files a message, and for
    the admins how Productlane's changes reach Slack, the write pace and how long items are kept."""

    update_mode: str
    """In words (`update_mode_words`)."""
    reaction: str = ""
    writes_per_minute: int = WRITES_PER_MINUTE
    retention_days: int = 90


@dataclass(frozen=True, slots=True)
class HomePacing:
    """How often Homes are published again after changes."""

    min_interval: timedelta = MIN_INTERVAL
    """A person's Home at most this often."""
    republish_per_minute: int = REPUBLISH_PER_MINUTE
    """Across replicas."""


class HomeTab:
    """Publishes people's Home tabs. Thread-safe; `stop()` ends its publishing thread."""

    def __init__(
        self,
        slack: HomeSlack,
        outbox: Outbox,
        health: DeliveryHealthReader,
        *,
        limiter_key: str,
        shows: HomeShows,
        channel_settings: ChannelSettingsSource | None = None,
        floods: FloodStore | None = None,
        pacing: HomePacing = HomePacing(),
    ) -> None:
        self._client = slack.client
        self._outbox = outbox
        self._lookups = slack.lookups
        self._admins = slack.admins
        self._health = health
        self._ours = slack.ours
        self._workspace_name = slack.workspace_name
        self._shows = shows
        self._channel_settings: ChannelSettingsSource = channel_settings or NoChannelSettings()
        self._pacing = pacing
        self._floods = floods
        self._views = HomeViews(outbox.database)
        self._reader = SubmissionsReader(outbox, limiter_key)
        self._limits = WriteLimits(outbox.database)
        self._updates = UpdatesStore(outbox.database)
        self._followups = FollowUpStore(outbox.database)
        self._publish_key = f"slack:views.publish:{slack.ours.team_id or 'workspace'}"
        self._lock = threading.Lock()
        self._changed_people: set[str] = set()
        self._changed_threads: set[str] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = RepeatedFailureLog(log, "republishing App Homes")

    # --- opening --------------------------------------------------------------------------------

    def opened(self, user_id: str) -> None:
        """``user_id`` opened their Home tab: publish it now (never raises)."""
        read_at = self._outbox.database.now()
        view = self.view_for(user_id)
        if self._publish(user_id, view) is not Published.YES:
            return
        metrics.home_published("opened")
        try:
            self._views.opened(user_id, read_at=read_at)
        except Exception:
            log.exception("could not note that %s opened their Home", user_id)

    def view_for(self, user_id: str) -> View:
        """What ``user_id``'s Home shows now."""
        try:
            person = self._lookups.user(user_id)
            if person is None:
                # Slack did not say who is looking: nothing is shown until it does.
                return unavailable_view()
            if not belongs(person.team_id, person.enterprise_id, self._ours):
                return outsider_view(self._workspace_name)
            now = self._outbox.database.now()
            submissions = self._reader.latest(user_id, now=now)
            admin = self._admin_facts() if self._admins.is_admin(user_id) else None
            return home_view(
                submissions,
                now=now,
                admin=admin,
                reaction=self._shows.reaction,
                writes_per_minute=self._shows.writes_per_minute,
            )
        except Exception:
            # The database is away: say so rather than leave an old Home up as if it were current.
            log.exception("could not read what %s's Home shows", user_id)
            return unavailable_view()

    def _admin_facts(self) -> AdminFacts:
        health = self._health.read()
        channels = sorted(self._channel_settings.all(), key=lambda settings: settings.channel)
        refused = self._followups.refused()
        latest = (
            f"thread {refused.latest_thread_id}: {refused.latest_reason}" if refused.latest_reason else None
        )
        held = tuple(self._floods.held_groups(HELD_SHOWN)) if self._floods is not None else ()
        held_total = self._floods.held_count() if held and self._floods is not None else 0
        return AdminFacts(
            waiting=health.waiting,
            failed=health.failed,
            oldest_waiting_seconds=health.oldest_waiting_seconds(self._outbox.database.now()),
            paused_reason=health.paused.reason if health.paused is not None else None,
            update_mode=self._shows.update_mode,
            channels=tuple(channel_line(settings) for settings in channels),
            refused_followups=refused.count,
            refused_followup_reason=latest,
            held=held,
            held_total=held_total,
            retention_days=self._shows.retention_days,
        )

    def _publish(self, user_id: str, view: View) -> Published:
        try:
            self._client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            code = slack_error_code(error)
            level = logging.INFO if is_transient(error) else logging.WARNING
            log.log(level, "could not publish the Home of %s: %s", user_id, code)
            if error.response.status_code == 429 or code in ("ratelimited", "rate_limited"):
                # Every replica waits as long as Slack asked before it republishes anyone's Home.
                wait = retry_after_seconds(error.response.headers)
                until = self._outbox.database.now() + timedelta(seconds=wait if wait is not None else 30.0)
                self._limits.pause_writes(self._publish_key, until)
                return Published.LATER
            return Published.LATER if is_transient(error) else Published.REFUSED
        except OSError as error:
            log.info("could not publish the Home of %s: %s", user_id, type(error).__name__)
            return Published.LATER
        return Published.YES

    # --- changes --------------------------------------------------------------------------------

    def changed(self, user_ids: Iterable[str]) -> None:
        """Something of these people's submissions changed: their Homes are published again if
        they are looking. Only notes it (never waits): called from the workers."""
        self._note(people=user_ids)

    def threads_changed(self, thread_ids: Sequence[str]) -> None:
        """These Productlane threads changed (status, links): their submitters' Homes follow."""
        self._note(threads_=thread_ids)

    def watching(self, notifier: Any) -> Any:
        """``notifier`` (the delivery worker's), telling this tab whenever it tells a submitter
        how their feedback fared: sent, refused, waiting, paused."""
        return _WatchingNotifier(notifier, lambda user_id: self.changed([user_id]))

    def _note(self, *, people: Iterable[str] = (), threads_: Iterable[str] = ()) -> None:
        with self._lock:
            self._changed_people.update(people)
            self._changed_threads.update(threads_)
            self._wake.set()
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="home", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        """Mark, claim and publish until nothing is stale; then end (an idle bot holds no thread)."""
        while not self._stopping.is_set():
            with self._lock:
                people, self._changed_people = self._changed_people, set()
                changed_threads, self._changed_threads = self._changed_threads, set()
                self._wake.clear()
            try:
                due = self._republish(people, changed_threads)
            except Exception as error:
                self._failures.failed(error)
                with self._lock:
                    self._changed_people |= people
                    self._changed_threads |= changed_threads
                due = self._outbox.database.now() + timedelta(seconds=RETRY_AFTER_FAILURE)
            else:
                self._failures.worked()
            with self._lock:
                if due is None and not self._changed_people and not self._changed_threads:
                    self._thread = None
                    return
            # Never a busy loop: a Home due now but claimed by another replica meanwhile is looked
            # at again a moment later.
            wait = 0.0 if due is None else (due - self._outbox.database.now()).total_seconds()
            self._wake.wait(timeout=max(wait, MIN_WAIT_SECONDS))
        with self._lock:
            self._thread = None

    def _republish(self, people: set[str], changed_threads: set[str]) -> datetime | None:
        """One round; when the next stale Home is due (None: none is stale)."""
        if changed_threads:
            people |= self._updates.submitters_of(changed_threads)
        if people:
            self._views.mark_stale(people)
        claimed = self._views.claim_due(self._pacing.min_interval, CLAIM_BATCH)
        for index, user_id in enumerate(claimed):
            outcome = self._publish(user_id, self.view_for(user_id)) if self._wait_for_slot() else None
            if outcome is Published.YES:
                metrics.home_published("changed")
            if outcome is None or outcome is Published.LATER:
                # Stopping, or Slack cannot take it now: these stay stale for a later round.
                self._views.mark_stale(claimed[index:])
                break
        return self._views.next_due(self._pacing.min_interval)

    def _wait_for_slot(self) -> bool:
        while not self._stopping.is_set():
            wait = self._limits.reserve_write_slot(
                self._publish_key, self._pacing.republish_per_minute, REPUBLISH_BURST
            )
            if wait <= 0:
                return True
            self._stopping.wait(min(wait, 5.0))
        return False


class _WatchingNotifier:
    """The delivery worker's notifier, noting for the Home whose submission changed. Whatever the
    notifier does (or raises), the change happened: the note is made in any case. Methods this
    wrapper does not know (added later) pass straight through."""

    def __init__(self, inner: Any, changed: Callable[[str], None]) -> None:
        self._inner = inner
        self._changed = changed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def delivered(self, submission: Submission, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.delivered(submission, *args, **kwargs)
        finally:
            self._changed(submission.submitter_id)

    def failed(self, submission: Submission, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.failed(submission, *args, **kwargs)
        finally:
            self._changed(submission.submitter_id)

    def delayed(self, submission: Submission, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.delayed(submission, *args, **kwargs)
        finally:
            self._changed(submission.submitter_id)

    def waiting_for_operator(self, submission: Submission, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.waiting_for_operator(submission, *args, **kwargs)
        finally:
            self._changed(submission.submitter_id)

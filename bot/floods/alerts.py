"""Telling the admins, once, that a channel went over a flood limit: a direct message to each of
them, posted from a thread of its own (never on Slack's ack path), which ends when nothing is left
to tell. Which replica tells is decided where the item was held (`FloodStore.admit`'s ``first``).

Finding the workspace's admins takes `users.list` (Slack's tier 2, many pages in a big workspace),
which may be refused for a while (429, 5xx). The alert is not lost then: the admins already known
(FEEDBACK_ADMINS) are told at once, and the alert stays owed until the rest could be found and
told — tried again later, sooner when the channel holds another message. Each admin is told once
per alert, however many tries it takes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.floods.limits import Scope
from bot.floods.store import Verdict
from bot.slack.admins import AdminsToTell
from bot.slack.replies import SlackReply, mrkdwn_escape, notice_reply

__all__ = ["AlertRetry", "FloodAlerts", "flood_alert_text"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertRetry:
    """When an alert still owed is tried again: after ``first_seconds``, doubling up to
    ``longest_seconds`` (users.list refused for an hour is retried about hourly, not hammered)."""

    first_seconds: float = 60.0
    longest_seconds: float = 3600.0


@dataclass(slots=True)
class _Alert:
    scope: Scope
    channel_id: str
    reason: str
    told: set[str] = field(default_factory=set)
    """Who has it already: never told twice."""
    tries: int = 0
    due: float = 0.0
    """When it may be tried (time.monotonic)."""
    held_while_telling: bool = False
    """The channel held another message while this was being told: if it is still owed, the
    next try is now, as that message would have made it."""


def flood_alert_text(scope: Scope, channel_id: str, reason: str, retention_days: int) -> str:
    """The admins' message (mrkdwn): what happened, that nothing is lost, and what to do."""
    return (
        f":warning: <#{mrkdwn_escape(channel_id)}> went over a flood limit: "
        f"{mrkdwn_escape(reason)}. From now on its {scope.noun} over the limit are *held* — kept, "
        "not sent to Productlane. Open my *Home* tab to *File* them (they are sent as usual) or "
        f"*Drop* them. Held items are deleted after {retention_days:,} days (OUTBOX_RETENTION_DAYS). "
        "This is the only message until everything held there is filed or dropped."
    )


class FloodAlerts:
    """Posts the admins' messages. `went_over` and `held_again` only note (never wait); `stop()`
    ends the thread (an alert due is tried first; one waiting for a retry is logged as untold)."""

    def __init__(
        self,
        admins: Callable[[], AdminsToTell],
        direct: Callable[[str, SlackReply], object],
        retention_days: int,
        retry: AlertRetry = AlertRetry(),
    ) -> None:
        self._admins = admins
        self._direct = direct
        self._retention_days = retention_days
        self._retry = retry
        self._changed = threading.Condition()
        self._pending: list[_Alert] = []
        # The alert being told now: still owed until the try ends.
        self._telling: _Alert | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    def went_over(self, scope: Scope, channel_id: str, reason: str) -> None:
        with self._changed:
            if self._stopping:
                return
            self._pending.append(_Alert(scope, channel_id, reason, due=time.monotonic()))
            self._start()

    def held(self, scope: Scope, channel_id: str, verdict: Verdict) -> None:
        """What an intake tells after the limits held a message: the first held in the channel
        alerts the admins, a later one retries an alert still owed."""
        if verdict.first:
            self.went_over(scope, channel_id, verdict.reason or "")
        else:
            self.held_again(channel_id)

    def held_again(self, channel_id: str) -> None:
        """The channel held one more message: an alert still owed for it is tried now."""
        with self._changed:
            if self._telling is not None and self._telling.channel_id == channel_id:
                self._telling.held_while_telling = True
            for alert in self._pending:
                if alert.channel_id == channel_id and alert.tries:
                    alert.due = time.monotonic()
                    self._changed.notify_all()

    def owed(self) -> list[str]:
        """The channels whose alert has not reached every admin yet."""
        with self._changed:
            telling = [] if self._telling is None else [self._telling]
            return [alert.channel_id for alert in telling + self._pending]

    def stop(self, timeout: float = 10.0) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="flood-alerts", daemon=True)
            self._thread.start()

    def _next(self) -> _Alert | None:
        """The next alert due, waiting for it; None when the thread should end."""
        with self._changed:
            while True:
                now = time.monotonic()
                due = [alert for alert in self._pending if alert.due <= now]
                if due:
                    self._pending.remove(due[0])
                    self._telling = due[0]
                    return due[0]
                if not self._pending or self._stopping:
                    for alert in self._pending:
                        log.warning(
                            "stopping with the flood alert of channel %s not told to every admin (told: %d)",
                            alert.channel_id,
                            len(alert.told),
                        )
                    self._thread = None
                    return None
                self._changed.wait(min(alert.due for alert in self._pending) - now)

    def _run(self) -> None:
        while (alert := self._next()) is not None:
            owed = self._tell(alert)
            with self._changed:
                self._telling = None
                if owed:
                    alert.tries += 1
                    delay = min(
                        self._retry.longest_seconds, self._retry.first_seconds * 2 ** (alert.tries - 1)
                    )
                    alert.due = time.monotonic() + (0.0 if alert.held_while_telling else delay)
                    alert.held_while_telling = False
                    self._pending.append(alert)

    def _tell(self, alert: _Alert) -> bool:
        """Tell whoever has not been told; True when the alert is still owed to someone."""
        try:
            found = self._admins()
        except Exception:
            log.exception(
                "channel %s went over a flood limit; could not find the admins to tell", alert.channel_id
            )
            return True
        if not found.people and found.complete:
            log.warning(
                "channel %s went over a flood limit (%s); no admin to tell: set FEEDBACK_ADMINS",
                alert.channel_id,
                alert.scope.value,
            )
            return False
        reply = notice_reply(
            flood_alert_text(alert.scope, alert.channel_id, alert.reason, self._retention_days)
        )
        told = 0
        failed = False
        for user_id in sorted(set(found.people) - alert.told):
            try:
                posted = self._direct(user_id, reply)
            except Exception as error:
                # Slack could not take it now: this admin is tried again with the next try.
                failed = True
                log.warning(
                    "could not tell admin %s about the flood in %s: %s",
                    user_id,
                    alert.channel_id,
                    type(error).__name__,
                )
                continue
            # None: Slack will never let the bot write to them; not tried again either.
            alert.told.add(user_id)
            if posted is not None:
                told += 1
        owed = failed or not found.complete
        log.warning(
            "channel %s went over a flood limit (%s): held; %d admin(s) told%s",
            alert.channel_id,
            alert.scope.value,
            told,
            "; the workspace's admins could not be listed: trying again later"
            if not found.complete
            else ("; trying the others again later" if failed else ""),
        )
        return owed

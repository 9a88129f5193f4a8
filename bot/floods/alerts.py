"""Telling the admins, once, that a channel went over a flood limit: a direct message to each of
them, posted from a thread of its own (never on Slack's ack path), which ends when nothing is left
to tell. Which replica tells is decided where the item was held (`FloodStore.admit`'s ``first``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.floods.limits import Scope
from bot.slack.replies import SlackReply, mrkdwn_escape, notice_reply

__all__ = ["FloodAlerts", "flood_alert_text"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Alert:
    scope: Scope
    channel_id: str
    reason: str


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
    """Posts the admins' messages. `went_over` only notes (never waits); `stop()` ends the thread."""

    def __init__(
        self,
        admins: Callable[[], Iterable[str]],
        direct: Callable[[str, SlackReply], object],
        retention_days: int,
    ) -> None:
        self._admins = admins
        self._direct = direct
        self._retention_days = retention_days
        self._lock = threading.Lock()
        self._pending: list[_Alert] = []
        self._thread: threading.Thread | None = None
        self._stopping = False

    def went_over(self, scope: Scope, channel_id: str, reason: str) -> None:
        with self._lock:
            if self._stopping:
                return
            self._pending.append(_Alert(scope, channel_id, reason))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="flood-alerts", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                alert = self._pending.pop(0)
            self._tell(alert)

    def _tell(self, alert: _Alert) -> None:
        try:
            people = sorted(set(self._admins()))
        except Exception:
            log.exception(
                "channel %s went over a flood limit; could not find the admins to tell", alert.channel_id
            )
            return
        if not people:
            log.warning(
                "channel %s went over a flood limit (%s); no admin to tell: set FEEDBACK_ADMINS",
                alert.channel_id,
                alert.scope.value,
            )
            return
        reply = notice_reply(
            flood_alert_text(alert.scope, alert.channel_id, alert.reason, self._retention_days)
        )
        told = 0
        for user_id in people:
            try:
                if self._direct(user_id, reply) is not None:
                    told += 1
            except Exception as error:
                log.warning(
                    "could not tell admin %s about the flood in %s: %s",
                    user_id,
                    alert.channel_id,
                    type(error).__name__,
                )
        log.warning(
            "channel %s went over a flood limit (%s): held; %d admin(s) told",
            alert.channel_id,
            alert.scope.value,
            told,
        )

"""Routing one `message` event to whoever wants it, or dropping it.

Runs before Bolt, on the thread that received the event, and Slack's ack is sent when it returns: a
consumer persists what it needs (a row in the outbox) and returns, so what was acked is never lost,
and a consumer that raises (the database is down) leaves the event unacked, for Slack to send again.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bot.message_events.classify import ChannelMessage, read_message_event
from bot.message_events.interest import Interest, Route

log = logging.getLogger(__name__)

Consumer = Callable[[ChannelMessage, str | None], None]
"""Takes a message and the workspace's team id (the payload's); persists what it needs."""


class KeptWatch(Protocol):
    """Told whether each message a consumer took could be kept (see `catch_up`)."""

    def failed(self) -> None: ...

    def worked(self) -> None: ...


class Outcome(enum.Enum):
    NOT_A_MESSAGE = "not a message event"
    IGNORED = "ignored"
    AUTOMATIC = "automatic capture"
    FOLLOW_UP = "follow-up"


def is_message_event(payload: Mapping[str, Any]) -> bool:
    """An Events API body carrying a `message` event (which this module handles, not Bolt)."""
    event = payload.get("event")
    return (
        payload.get("type") == "event_callback"
        and isinstance(event, Mapping)
        and event.get("type") == "message"
    )


class MessageEvents:
    """Every `message` event goes through `handle`; Bolt never sees one."""

    def __init__(
        self,
        interest: Interest,
        *,
        bot_user_id: str | None,
        bot_id: str | None,
        automatic: Consumer | None = None,
        follow_up: Consumer | None = None,
    ) -> None:
        self.interest = interest
        self._bot_user_id = bot_user_id
        self._bot_id = bot_id
        self._consumers: dict[Route, Consumer] = {}
        self._watch: KeptWatch | None = None
        if automatic is not None:
            self._consumers[Route.AUTOMATIC] = automatic
        if follow_up is not None:
            self._consumers[Route.FOLLOW_UP] = follow_up

    def consume(self, route: Route, consumer: Consumer) -> None:
        """Hand the messages of ``route`` to ``consumer`` (wired once, before the bot starts)."""
        self._consumers[route] = consumer

    def watch(self, watch: KeptWatch) -> None:
        """Tell ``watch`` whether each message could be kept (wired once, before the bot starts)."""
        self._watch = watch

    def handle(self, payload: Mapping[str, Any]) -> Outcome:
        """Decide about one Events API body. Raises only when a consumer could not persist the
        message: then Slack must not get its ack."""
        if not is_message_event(payload):
            return Outcome.NOT_A_MESSAGE
        message = read_message_event(payload["event"], bot_user_id=self._bot_user_id, bot_id=self._bot_id)
        if message is None:
            return Outcome.IGNORED
        route = self.interest.route(message)
        consumer = self._consumers.get(route) if route is not None else None
        if route is None or consumer is None:
            return Outcome.IGNORED
        team = payload.get("team_id")
        try:
            consumer(message, team if isinstance(team, str) else None)
        except Exception:
            if self._watch is not None:
                self._watch.failed()
            raise
        if self._watch is not None:
            self._watch.worked()
        return Outcome.AUTOMATIC if route is Route.AUTOMATIC else Outcome.FOLLOW_UP

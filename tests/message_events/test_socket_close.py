"""Stopping does not wait: closing the socket-mode handler ends its threads at once, not when the next
message arrives (slack_sdk's message processor waits on its queue between looks at whether the
client closed, up to a second each)."""

from __future__ import annotations

import threading
from queue import Queue

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.message_events import Interest, MessageEvents
from bot.message_events.socket_mode import MessageFilteringHandler
from tests.fakes.slack import FakeSlack
from tests.pace import PATIENCE

pytestmark = pytest.mark.timeout(60)


class WaitsForAMessage(Queue[str | None]):
    """The client's queue of received messages, whose reader waits for a message however long it
    takes: a close that only ends when the reader's wait runs out never ends."""

    def __init__(self) -> None:
        super().__init__()
        self.read = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None) -> str | None:
        self.read.set()
        return super().get(block)


def test_closing_ends_the_handlers_threads_without_waiting_for_a_message() -> None:
    with FakeSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        app = App(name="t", client=client, signing_secret="unused", token_verification_enabled=False)
        events = MessageEvents(Interest(), bot_user_id="U0BOT00001", bot_id="B0BOT00001")
        handler = MessageFilteringHandler(app, slack.app_token, events)
        patient = WaitsForAMessage()
        started_with, handler.client.message_queue = handler.client.message_queue, patient
        started_with.put(None)  # the reader, already waiting on the first queue, moves to this one
        handler.connect()  # type: ignore[no-untyped-call]
        slack.socket.wait_connected(timeout=PATIENCE)
        assert patient.read.wait(PATIENCE), "the reader waits for a message"

        closing = threading.Thread(target=handler.close, name="closing")
        closing.start()
        closing.join(PATIENCE)

        assert not closing.is_alive(), "closing ended without a message"
        slack.socket.wait_disconnected(timeout=PATIENCE)

"""Stopping the bot does not wait out slack_sdk's idle poll: closing the socket-mode handler wakes the
client's message processor, which otherwise sees the close only when its wait on the queue ends."""

from __future__ import annotations

import queue
import threading

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.message_events import Interest, MessageEvents
from bot.message_events.socket_mode import MessageFilteringHandler
from tests.fakes.slack import FakeSlack
from tests.pace import PATIENCE

pytestmark = pytest.mark.timeout(60)


class WaitsForAMessage(queue.Queue[str | None]):
    """The processor's queue, waiting until something comes whatever timeout it is given: a close
    that only waited for the processor's poll to end would never end."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[str | None] = []
        self.waiting_again = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None) -> str | None:
        if self.taken:
            self.waiting_again.set()
        item = super().get(block=True)
        self.taken.append(item)
        return item


def test_closing_wakes_the_message_processor_instead_of_waiting_for_its_poll() -> None:
    with FakeSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        app = App(name="t", client=client, signing_secret="unused", token_verification_enabled=False)
        events = MessageEvents(Interest(), bot_user_id="U0BOT00001", bot_id="B0BOT00001")
        handler = MessageFilteringHandler(app, slack.app_token, events)
        waits = WaitsForAMessage()
        first, handler.client.message_queue = handler.client.message_queue, waits
        first.put(None)  # the processor, waiting on the client's first queue, moves to this one
        handler.connect()  # type: ignore[no-untyped-call]
        # Slack's hello taken, the processor waits on its queue for the next message.
        assert waits.waiting_again.wait(PATIENCE)

        closing = threading.Thread(target=handler.close, daemon=True)
        closing.start()
        closing.join(PATIENCE)

        assert not closing.is_alive(), "the close waited for a message that never came"
        assert "hello" in str(waits.taken[0])

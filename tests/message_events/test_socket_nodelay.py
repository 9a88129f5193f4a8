"""Acks go out at once: the socket-mode connection (and each one it reconnects with) has Nagle's
algorithm off, so under a stream of channel messages an ack does not wait for Slack's next frame."""

from __future__ import annotations

import queue
import socket
import threading
import time

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin.connection import ConnectionState

from bot.message_events import Interest, MessageEvents
from bot.message_events.socket_mode import MessageFilteringHandler
from tests.fakes.slack import FakeSlack
from tests.pace import PATIENCE
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)


def no_delay(handler: MessageFilteringHandler) -> int:
    session = handler.client.current_session
    assert session is not None
    assert session.sock is not None
    return int(session.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def handler_for(slack: FakeSlack) -> MessageFilteringHandler:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    app = App(name="t", client=client, signing_secret="unused", token_verification_enabled=False)
    events = MessageEvents(Interest(), bot_user_id="U0BOT00001", bot_id="B0BOT00001")
    return MessageFilteringHandler(app, slack.app_token, events)


def test_the_connection_and_every_reconnection_send_without_delay() -> None:
    with FakeSlack() as slack:
        handler = handler_for(slack)
        try:
            handler.connect()  # type: ignore[no-untyped-call]
            slack.socket.wait_connected(timeout=10)
            assert no_delay(handler) == 1
            handler.client.connect_to_new_endpoint(force=True)
            assert no_delay(handler) == 1
        finally:
            handler.close()


class TakesUntilGiven(queue.Queue[str | None]):
    """A queue whose takes wait for an item however long they were told to wait: a processor that
    ends on closing was woken, not timed out."""

    def __init__(self) -> None:
        super().__init__()
        self.taking = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None) -> str | None:
        if self.empty():  # a take that waits (Slack's hello, queued first, does not)
            self.taking.set()
        return super().get(block, None)


def test_closing_wakes_the_message_processor_rather_than_waiting_for_its_next_look() -> None:
    with FakeSlack() as slack:
        handler = handler_for(slack)
        taking = TakesUntilGiven()
        first, handler.client.message_queue = handler.client.message_queue, taking
        first.put(None)  # the processor's take from the queue it started with ends at once
        handler.connect()  # type: ignore[no-untyped-call]
        slack.socket.wait_connected(timeout=10)
        # Then it takes Slack's hello from this one and waits on it for the next message.
        assert taking.taking.wait(PATIENCE)
        closing = threading.Thread(target=handler.close, daemon=True)
        closing.start()
        closing.join(PATIENCE)
        assert not closing.is_alive(), "close() is still waiting on the message processor"
        assert handler.client.closed


class LiveConnection:
    """A connection that is always up, and records the session states it was received on."""

    def __init__(self) -> None:
        self.looked = 0
        self.received_on: queue.SimpleQueue[ConnectionState] = queue.SimpleQueue()

    def is_active(self) -> bool:
        self.looked += 1
        return True

    def run_until_completion(self, state: ConnectionState) -> None:
        self.received_on.put(state)
        while not state.terminated:
            time.sleep(0.001)

    def close(self) -> None:
        pass


def test_the_receiver_never_revives_a_session_state_that_was_ended() -> None:
    """A reconnect replaces the connection, then its state, and ends the old state first: a look
    in between sees the new connection with the old, ended state. slack_sdk's runner marked that
    state live again and received on it for ever; a close that came before the runner's first look
    was undone the same way."""
    with FakeSlack() as slack:
        handler = handler_for(slack)
        connection = LiveConnection()
        ended = ConnectionState()  # type: ignore[no-untyped-call]
        ended.terminated = True
        handler.client.current_session_state = ended
        handler.client.current_session = connection  # type: ignore[assignment]
        try:
            wait_until(lambda: connection.looked >= 3, "the receiver looked three times")
            assert connection.received_on.empty(), "received on a session state that had ended"
            assert ended.terminated
            live = ConnectionState()  # type: ignore[no-untyped-call]
            handler.client.current_session_state = live
            assert connection.received_on.get(timeout=PATIENCE) is live
        finally:
            closing = threading.Thread(target=handler.close, daemon=True)
            closing.start()
            closing.join(PATIENCE)
        assert not closing.is_alive(), "close() is waiting for a receiver that never ends"
        assert live.terminated

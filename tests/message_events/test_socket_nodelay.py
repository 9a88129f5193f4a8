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
from slack_sdk.socket_mode.builtin import SocketModeClient

from bot.message_events import Interest, MessageEvents
from bot.message_events.socket_mode import MessageFilteringHandler
from tests.fakes.slack import FakeSlack
from tests.pace import PATIENCE

pytestmark = pytest.mark.timeout(60)


def no_delay(handler: MessageFilteringHandler) -> int:
    session = handler.client.current_session
    assert session is not None
    assert session.sock is not None
    return int(session.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_the_connection_and_every_reconnection_send_without_delay() -> None:
    with FakeSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        app = App(name="t", client=client, signing_secret="unused", token_verification_enabled=False)
        events = MessageEvents(Interest(), bot_user_id="U0BOT00001", bot_id="B0BOT00001")
        handler = MessageFilteringHandler(app, slack.app_token, events)
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
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        app = App(name="t", client=client, signing_secret="unused", token_verification_enabled=False)
        events = MessageEvents(Interest(), bot_user_id="U0BOT00001", bot_id="B0BOT00001")
        handler = MessageFilteringHandler(app, slack.app_token, events)
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


def test_a_close_just_after_connecting_ends_though_slack_sdk_marks_the_session_live_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # slack_sdk's session runner looks at the connection, then marks its session live and receives:
    # one that looked just before the close and goes on just after it undoes the close's mark.
    looked = threading.Event()

    def looked_just_before_the_close(self: SocketModeClient) -> None:
        session = self.current_session
        if session is None or not session.is_active():
            return
        looked.set()
        while not self.current_session_state.terminated:  # the close has marked it over
            time.sleep(0.001)
        self.current_session_state.terminated = False  # as slack_sdk's runner does
        session.run_until_completion(self.current_session_state)

    monkeypatch.setattr(SocketModeClient, "_run_current_session", looked_just_before_the_close)
    with FakeSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        app = App(name="t", client=client, signing_secret="unused", token_verification_enabled=False)
        events = MessageEvents(Interest(), bot_user_id="U0BOT00001", bot_id="B0BOT00001")
        handler = MessageFilteringHandler(app, slack.app_token, events)
        handler.connect()  # type: ignore[no-untyped-call]
        assert looked.wait(PATIENCE)
        closing = threading.Thread(target=handler.close, daemon=True)
        closing.start()
        closing.join(PATIENCE)
        assert not closing.is_alive(), "close() is waiting for a session runner that never ends"

"""Socket mode with the message fast path: a `message` event is decided here and acked at once;
everything else goes to Bolt as before.

Acks go out without Nagle's delay (TCP_NODELAY): with `message.*` Slack sends a steady stream of
small frames, and an ack written while the previous one is still unacknowledged would otherwise
wait for Slack's next frame (or its delayed ACK) to carry the acknowledgement back — about 10 ms
per ack at 100 to 1,000 channel messages a second, for the feedback submissions' acks too
(bench/bench_messages.py)."""

from __future__ import annotations

import logging
import socket
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.interval_runner import IntervalRunner
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.background import RepeatedFailureLog
from bot.message_events.dispatch import MessageEvents, is_message_event

log = logging.getLogger(__name__)
# How often the receiver looks for a connection to receive on (slack_sdk's own pace).
RECEIVER_INTERVAL_SECONDS = 0.1


class MessageFilteringHandler(SocketModeHandler):
    """Bolt's socket-mode handler, with `message` events answered by `MessageEvents`."""

    def __init__(self, app: App, app_token: str, message_events: MessageEvents, **options: Any) -> None:
        super().__init__(app, app_token, **options)
        self._message_events = message_events
        self._failures = RepeatedFailureLog(log, "keeping a channel message")
        _send_without_delay(self.client)
        _receive_without_reviving(self.client)

    def close(self) -> None:
        """Disconnect and end slack_sdk's threads, without waiting out their idle poll.

        slack_sdk's message processor waits on its queue up to a second at a time and only then
        sees that the client is closed, and closing joins it: every stop would wait that second for
        nothing. Marked closed first, then woken with None (which the processor skips), it ends at
        once; envelopes still queued are not acked either way, so Slack sends them again."""
        client = self.client
        client.closed = True
        client.message_queue.put(None)
        super().close()  # type: ignore[no-untyped-call]

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if req.type == "events_api" and is_message_event(req.payload):
            try:
                self._message_events.handle(req.payload)
            except Exception as error:
                # Not acked: Slack sends the event again, and nothing it carried is lost.
                self._failures.failed(error)
                return
            self._failures.worked()
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        super().handle(client, req)


def _receive_without_reviving(client: SocketModeClient) -> None:
    """Receive on the client's connection with a runner that never revives a session that ended.

    slack_sdk's runner reads the connection and its session state one after the other, marks the
    state live and receives until it is marked over. A reconnect replaces the connection, then the
    state, ending the old state first: a runner that read the new connection with the old state
    revived it and received on a state nothing would end again. The next reconnect left it behind
    (the bot heard nothing more) and a stop waited for it for ever; a close that came between a
    connection and the runner's start was undone the same way. This runner receives only while the
    state it read is live, and leaves marking it over to whoever closes or replaces the connection.
    """

    failures = RepeatedFailureLog(log, "receiving on the socket-mode connection")

    def receive() -> None:
        session = client.current_session
        state = client.current_session_state
        if session is None or not session.is_active() or state.terminated:
            return
        try:
            session.run_until_completion(state)
        except Exception as error:  # the runner must live on: it is the only thread that receives
            failures.failed(error)
        else:
            failures.worked()

    client.current_session_runner.shutdown()  # type: ignore[no-untyped-call] # slack_sdk's, idle till connected
    client.current_session_runner = IntervalRunner(receive, RECEIVER_INTERVAL_SECONDS).start()


def _send_without_delay(client: SocketModeClient) -> None:
    """Set TCP_NODELAY on every connection the client opens (it reconnects by calling `connect`)."""
    connect = client.connect

    def connect_without_delay() -> None:
        connect()
        session = client.current_session
        sock = getattr(session, "sock", None)
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as error:  # not TCP (a test's socket pair): acks just go as before
                log.debug("could not set TCP_NODELAY on the socket-mode connection: %s", error)

    client.connect = connect_without_delay  # type: ignore[method-assign]

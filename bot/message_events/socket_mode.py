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
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.background import RepeatedFailureLog
from bot.message_events.dispatch import MessageEvents, is_message_event

log = logging.getLogger(__name__)


class MessageFilteringHandler(SocketModeHandler):
    """Bolt's socket-mode handler, with `message` events answered by `MessageEvents`."""

    def __init__(self, app: App, app_token: str, message_events: MessageEvents, **options: Any) -> None:
        super().__init__(app, app_token, **options)
        self._message_events = message_events
        self._failures = RepeatedFailureLog(log, "keeping a channel message")
        _send_without_delay(self.client)

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

    def close(self) -> None:
        """Stop as slack_sdk does, without its wait: its message processor looks whether the client
        closed only between takes from its queue, each waiting up to a second, and closing waits for
        it. Marked closed, then handed an empty take (which it skips), it ends at once; envelopes
        still queued are left as slack_sdk leaves them (unacked: Slack sends them again)."""
        client = self.client
        client.closed = True
        client.message_queue.put(None)
        super().close()  # type: ignore[no-untyped-call]


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

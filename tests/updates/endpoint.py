"""A tiny loopback HTTP server around `receive_webhook`, standing in for the web server in tests.

The production server (bot/web/) mounts the same function at the same path; this one exists only
so that the fake Productlane can send real HTTP requests to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.updates import MAX_BODY_BYTES, WEBHOOK_PATH
from tests.fakes.serving import stop_serving

Receive = Callable[[bytes, Mapping[str, str]], tuple[int, dict[str, Any]]]
DRAIN_LIMIT = 8 * MAX_BODY_BYTES


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    endpoint: WebhookEndpoint

    def do_POST(self) -> None:
        if self.path.split("?")[0] != WEBHOOK_PATH:
            self._answer(404, {"ok": False, "error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            # Refused before reading; drained (up to a point) so the client sees the answer.
            if length <= DRAIN_LIMIT:
                self.rfile.read(length)
            self.close_connection = True
            self._answer(413, {"ok": False, "error": "payload_too_large"})
            return
        body = self.rfile.read(length)
        status, answer = self.endpoint.receive(body, dict(self.headers.items()))
        self._answer(status, answer)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        with self.endpoint.lock:
            self.endpoint.statuses.append(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 refuses connections in a burst of deliveries


class WebhookEndpoint:
    """``POST /productlane/webhooks`` on 127.0.0.1 (random port) → ``receive(raw_body, headers)``."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.lock = threading.Lock()
        self.statuses: list[int] = []
        handler = type("Handler", (_Handler,), {"endpoint": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{WEBHOOK_PATH}"

    def __enter__(self) -> WebhookEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        stop_serving(self._server)
        self._server.server_close()
        self._thread.join(timeout=5)

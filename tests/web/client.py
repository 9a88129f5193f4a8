"""HTTP as Slack, an orchestrator or a bad network speaks it to the bot: signed requests, plain
requests with their timing, and a client that sends its body a little at a time."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    seconds: float


def request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One request on a fresh connection; connection errors propagate (a reset is a failure)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body or None, headers=dict(headers or {}))
        response = connection.getresponse()
        text = response.read().decode("utf-8", errors="replace")
    finally:
        connection.close()
    return Answer(response.status, text, time.monotonic() - started)


def payload_body(payload: Mapping[str, Any]) -> bytes:
    """An interactivity request's body: the payload as one form field, as Slack sends it."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_headers(
    body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return FORM | {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def post_signed(port: int, body: bytes, timeout: float = 10.0) -> Answer:
    return request(port, "POST", "/slack/events", body, signed_headers(body), timeout)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class SlowUpload:
    """A client on a bad network: its headers go out at once, its body a piece at a time."""

    def __init__(self, port: int, path: str, body: bytes, headers: Mapping[str, str]) -> None:
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self._rest = body

    @property
    def remaining(self) -> int:
        """Bytes of the body not sent yet."""
        return len(self._rest)

    def send(self, size: int) -> None:
        piece, self._rest = self._rest[:size], self._rest[size:]
        self._socket.sendall(piece)

    def finish(self) -> Answer:
        """Send what is left and read the answer."""
        started = time.monotonic()
        self._socket.sendall(self._rest)
        self._rest = b""
        return self.answer(started)

    def answer(self, started: float | None = None) -> Answer:
        started = time.monotonic() if started is None else started
        response = http.client.HTTPResponse(self._socket)
        try:
            response.begin()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            response.close()
            self._socket.close()
        return Answer(response.status, text, time.monotonic() - started)

    def close(self) -> None:
        self._socket.close()

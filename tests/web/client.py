"""HTTP as Slack, an orchestrator or a bad network speaks it to the bot: signed requests, plain
requests with their timing, a client that sends its body a little at a time, and many that trickle
their headers a byte at a time (slowloris)."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
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
    host: str = "127.0.0.1",
) -> Answer:
    """One request on a fresh connection; connection errors propagate (a reset is a failure)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
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


# The deadline for a request's headers (HTTP_HEADERS_DEADLINE_SECONDS) of a bot whose test waits for
# it to close clients trickling theirs: its default, 10 s, would be most of the test's time. Long
# enough that the bot accepts all of a test's 200 connections before the first one's deadline.
HEADERS_DEADLINE_SECONDS = 2


class StalledClients:
    """`count` connections that each send a request's first byte, then one more byte of its headers
    every `every` seconds, never ending them: each byte is activity, so an idle timeout never fires.
    They keep trickling in a thread of their own until `close()`; a connection the server closes
    is counted in `closed` (how long it lived in `lifetimes`) and left alone, or with `reopen`
    replaced by a new one, as an attacker keeps `count` open."""

    START = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never-Ending: "

    def __init__(self, port: int, count: int, every: float = 0.5, *, reopen: bool = False) -> None:
        self._port = port
        self._every = every
        self._reopen = reopen
        self._sockets: list[socket.socket] = []
        self._open: list[tuple[socket.socket, Iterator[bytes]]] = []
        # When each connection's first byte went out: never later than the server received it.
        self._first_byte: dict[socket.socket, float] = {}
        self._lifetimes: list[float] = []
        self.local_ports: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for _ in range(count):
            self._connect()
        self._send_round()  # every connection has begun its request before the caller goes on
        self._thread = threading.Thread(target=self._trickle, name="stalled-clients", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> int:
        """How many of the connections the server has closed."""
        with self._lock:
            return len(self._sockets) - len(self._open)

    def _connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self._port), timeout=30)
        # A look for the server's close must not wait; a byte always fits the send buffer.
        sock.setblocking(False)
        self._sockets.append(sock)
        self.local_ports.add(int(sock.getsockname()[1]))
        request = itertools.chain((bytes([byte]) for byte in self.START), itertools.repeat(b"a"))
        self._open.append((sock, request))

    @property
    def lifetimes(self) -> list[float]:
        """For each connection the server has closed, the seconds from its first byte going out to
        the close being seen: at least as long as the server let it send its headers."""
        with self._lock:
            return list(self._lifetimes)

    @property
    def trickling(self) -> bool:
        return self._thread.is_alive()

    def _trickle(self) -> None:
        while not self._stop.wait(self._every):
            self._send_round()

    def _send_round(self) -> None:
        with self._lock:
            still_open = []
            for sock, request in self._open:
                if _closed_by_peer(sock):
                    self._record_close(sock)
                    continue
                self._first_byte.setdefault(sock, time.monotonic())
                try:
                    sock.sendall(next(request))
                except OSError:
                    self._record_close(sock)
                    continue
                still_open.append((sock, request))
            lost = len(self._open) - len(still_open)
            self._open = still_open
            if self._reopen:
                for _ in range(lost):
                    self._connect()  # sends its first byte in the next round

    def _record_close(self, sock: socket.socket) -> None:
        began = self._first_byte.get(sock)
        if began is not None:  # a replacement closed before its first byte began no request
            self._lifetimes.append(time.monotonic() - began)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> StalledClients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end closed `sock` (it sends nothing else: any read means a close)."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:  # reset: the server closed while our bytes were unread
        return True


def connections_held(pid: int, port: int, peers: set[int]) -> int:
    """How many connections from the local ports `peers` to `port` process `pid` has accepted (holds
    a socket for). A connection still in the listen backlog is established, but not accepted: only
    the server's own descriptors tell the two apart (Linux's /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in itertools.islice(rows, 1, None):
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if local_port == port and remote_port in peers:
                    inodes.add(fields[9])
    held = 0
    for descriptor in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed since it was listed
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
            if target.startswith("socket:[") and target[len("socket:[") : -1] in inodes:
                held += 1
    return held

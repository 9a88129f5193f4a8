"""Clients that send slowly on purpose (slowloris) against the HTTP server on its own: each request
has a deadline however its bytes trickle in, a slow client never holds up anyone else or a stop, and
a keep-alive connection waiting between requests is not taken for one.

The deadlines here are half a second so the tests are quick; the bot's (HTTP_HEADERS_DEADLINE_SECONDS)
are exercised through the running bot in test_http_mode.py and test_socket_mode_probes.py."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import time
from collections.abc import Iterator

import pytest
from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser

from bot.web.routes import Response, Route, RouteTable
from bot.web.server import HttpServer
from bot.web.slow_clients import ReadDeadlines, RequestClock, connection_limit, overdue
from tests.pace import PATIENCE
from tests.running_bot import free_port, wait_until
from tests.web.client import SlowUpload, StalledClients, connections_held, request

pytestmark = pytest.mark.timeout(60)

SHORT = ReadDeadlines(header_seconds=0.5, body_seconds=0.5, body_bytes_per_second=5000.0)
ROUTES = RouteTable(
    [
        Route("POST", "/echo", lambda request: Response(200, request.body), max_body_bytes=10_000),
        Route("GET", "/ping", lambda request: Response.text(200, "pong")),
    ]
)


def a_header_deadline_passes(server: HttpServer) -> None:
    """Begin a request now and wait until the server cuts it at its header deadline: by then the
    server has looked for late requests past that deadline for every request that began earlier."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as late:
        late.sendall(b"GET /ping HTTP/1.1\r\nX-Slow: ")
        with contextlib.suppress(ConnectionResetError):
            assert late.recv(1) == b""  # closed without an answer


@pytest.fixture
def server() -> Iterator[HttpServer]:
    server = HttpServer(ROUTES, free_port(), host="127.0.0.1", deadlines=SHORT)
    server.start()
    yield server
    server.stop(grace_seconds=1)


def test_clients_trickling_their_headers_are_closed_and_everyone_else_answered(server: HttpServer) -> None:
    with StalledClients(server.port, 150, every=0.1) as stalled:
        wait_until(
            lambda: connections_held(os.getpid(), server.port, stalled.local_ports) == 150,
            "the server to accept every stalled connection",
        )
        answers = [request(server.port, "GET", "/ping", timeout=20) for _ in range(3)]
        wait_until(lambda: stalled.closed == 150, "the server to close every stalled connection", 30)
        still_trickling = stalled.trickling

    assert [answer.status for answer in answers] == [200, 200, 200]
    assert still_trickling  # they were closed while sending, not because they stopped


def test_a_body_slower_than_its_allowance_is_closed(server: HttpServer) -> None:
    body = b"x" * 500  # allowed 0.5 s + 500 bytes at 5000 bytes/s: 0.6 s
    upload = SlowUpload(server.port, "/echo", body, {})
    upload.send(10)

    def closed() -> bool:
        try:
            upload.send(1)  # a byte now and then: never silent, never done
        except OSError:
            return True
        time.sleep(0.05)
        return False

    wait_until(closed, "the server to close the slow upload", 30)
    with pytest.raises((ConnectionError, OSError, http.client.HTTPException)):
        upload.answer()
    assert request(server.port, "GET", "/ping").status == 200


def test_a_body_within_its_allowance_is_answered() -> None:
    # 0.5 s, plus 2000 bytes at 100 bytes/s: a body may take 20.5 s.
    deadlines = ReadDeadlines(header_seconds=0.5, body_seconds=0.5, body_bytes_per_second=100.0)
    server = HttpServer(ROUTES, free_port(), host="127.0.0.1", deadlines=deadlines)
    server.start()
    try:
        body = b"y" * 2000
        upload = SlowUpload(server.port, "/echo", body, {})
        upload.send(1000)
        wait_until(server.busy, "the server to see the request")
        # Past the header deadline and the body's base allowance (as long here), within its own.
        a_header_deadline_passes(server)

        answer = upload.finish()
    finally:
        server.stop(grace_seconds=1)

    assert (answer.status, answer.body) == (200, body.decode())


def test_a_keep_alive_connection_waiting_between_requests_is_not_cut(server: HttpServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        connection.request("GET", "/ping")
        first = connection.getresponse()
        first.read()
        # Longer than a request may take to arrive (its headers), far less than the idle timeout.
        a_header_deadline_passes(server)
        connection.request("GET", "/ping")
        second = connection.getresponse()
        second.read()
    finally:
        connection.close()

    assert (first.status, second.status) == (200, 200)


def test_a_stop_does_not_wait_for_a_client_past_its_deadline() -> None:
    server = HttpServer(ROUTES, free_port(), host="127.0.0.1", deadlines=SHORT)
    server.start()
    with socket.create_connection(("127.0.0.1", server.port)) as stalled:
        stalled.sendall(b"GET /ping HTTP/1.1\r\nX-Slow: ")
        wait_until(server.busy, "the server to see the request")

        # Within the grace period the request's deadline passes: it is not one to wait for.
        assert server.stop(grace_seconds=30) is True
    assert not server.running


def test_the_deadlines() -> None:
    request = HTTPRequestParser(Adjustments())
    deadlines = ReadDeadlines(header_seconds=10, body_seconds=10, body_bytes_per_second=1024)

    receiving_headers = RequestClock(request, started=100.0)
    assert not overdue(receiving_headers, 0, deadlines, now=110.0)
    assert overdue(receiving_headers, 0, deadlines, now=110.5)

    receiving_body = RequestClock(request, started=100.0, headers_ended=105.0)
    assert not overdue(receiving_body, 10 * 1024, deadlines, now=125.0)  # 10 s + 10 KiB at 1 KiB/s
    assert overdue(receiving_body, 10 * 1024, deadlines, now=125.5)


def test_late_requests_are_looked_for_once_a_second_or_often_enough_for_a_short_deadline() -> None:
    assert ReadDeadlines().sweep_seconds() == 1.0  # the bot's own deadlines: ten seconds each
    assert ReadDeadlines(header_seconds=2, body_seconds=10).sweep_seconds() == 0.5
    assert ReadDeadlines(header_seconds=10, body_seconds=1).sweep_seconds() == 0.25


def test_the_connection_limit_fits_the_open_files_limit() -> None:
    assert connection_limit(500, open_files=20_000, reserve=128) == 500
    assert connection_limit(500, open_files=256, reserve=128) == 128
    assert connection_limit(500, open_files=100, reserve=128) == 1

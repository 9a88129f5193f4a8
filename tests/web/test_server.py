"""The HTTP server on its own: slow clients, bursts, oversized bodies, a taken port, a graceful stop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.web.routes import Request, Response, Route, RouteTable
from bot.web.server import HttpServer, PortUnavailableError
from tests.running_bot import free_port, wait_until
from tests.web.client import SlowUpload, listening, request

pytestmark = pytest.mark.timeout(60)


def echo(request: Request) -> Response:
    return Response(200, request.body)


def slow(request: Request) -> Response:
    # Long enough that a burst of 50 waits on the server's 8 threads, seven answers deep.
    time.sleep(0.1)
    return Response.text(200, "done")


ROUTES = RouteTable(
    [
        Route("POST", "/echo", echo, max_body_bytes=1000),
        Route("GET", "/ping", lambda request: Response.text(200, "pong")),
        Route("GET", "/slow", slow),
    ]
)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    server = HttpServer(ROUTES, free_port(), host="127.0.0.1")
    server.start()
    yield server
    server.stop(grace_seconds=1)


def test_a_client_sending_its_body_slowly_delays_no_one(server: HttpServer) -> None:
    upload = SlowUpload(server.port, "/echo", b"x" * 600, {})
    upload.send(100)

    # A server that gave the slow client a thread would keep this waiting: its body never ends.
    answers = [request(server.port, "GET", "/ping", timeout=5) for _ in range(3)]

    assert [answer.status for answer in answers] == [200, 200, 200]
    upload.send(100)
    finished = upload.finish()
    assert (finished.status, finished.body) == (200, "x" * 600)


def test_a_burst_of_connections_is_served_without_resets(server: HttpServer) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: request(server.port, "GET", "/slow", timeout=30), range(50)))

    assert [answer.status for answer in answers] == [200] * 50


def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(server: HttpServer) -> None:
    upload = SlowUpload(server.port, "/echo", b"x" * 5000, {})  # over the largest route cap

    answer = upload.answer()

    assert answer.status == 413


def test_a_body_over_its_routes_cap_is_refused() -> None:
    table = RouteTable([Route("POST", "/small", echo, max_body_bytes=10), Route("POST", "/big", echo, 1000)])
    server = HttpServer(table, free_port(), host="127.0.0.1")
    server.start()
    try:
        assert request(server.port, "POST", "/small", b"x" * 11).status == 413
        assert request(server.port, "POST", "/big", b"x" * 11).status == 200
    finally:
        server.stop(grace_seconds=1)


def test_a_taken_port_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(PortUnavailableError, match=f"cannot listen on port {port}"):
            HttpServer(ROUTES, port, host="127.0.0.1")


def test_stop_refuses_new_connections_and_answers_the_request_under_way() -> None:
    server = HttpServer(ROUTES, free_port(), host="127.0.0.1")
    server.start()
    upload = SlowUpload(server.port, "/echo", b"y" * 300, {})
    upload.send(100)
    wait_until(lambda: server.busy(), "the server to see the request")
    finished: list[bool] = []
    stopping = threading.Thread(target=lambda: finished.append(server.stop(grace_seconds=20)))
    stopping.start()

    wait_until(lambda: not listening(server.port), "the port to close")
    answer = upload.finish()
    stopping.join(timeout=30)

    assert (answer.status, answer.body) == (200, "y" * 300)
    assert finished == [True]
    assert not server.running


def test_stop_gives_up_on_a_stalled_request_after_the_grace_period() -> None:
    server = HttpServer(ROUTES, free_port(), host="127.0.0.1")
    server.start()
    upload = SlowUpload(server.port, "/echo", b"z" * 300, {})
    upload.send(10)
    wait_until(lambda: server.busy(), "the server to see the request")

    assert server.stop(grace_seconds=0.3) is False
    assert not server.running
    with pytest.raises((ConnectionError, OSError)):
        upload.answer()

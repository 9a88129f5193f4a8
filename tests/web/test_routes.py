"""The route table: each route's handler sees only requests it can take; the HTTP chores answer the rest."""

from __future__ import annotations

import io
import threading
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from bot.web.health import ReadinessCheck, health_routes
from bot.web.routes import Request, Response, Route, RouteTable


class UnreadableBody(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the body of a refused request must not be read")


def call(
    table: RouteTable, method: str, path: str, body: bytes = b"", **extra: Any
) -> tuple[str, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path}
    environ["CONTENT_LENGTH"] = str(len(body)) if body else ""
    environ["wsgi.input"] = io.BytesIO(body)
    environ.update(extra)
    setup_testing_defaults(environ)
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.extend([status, headers])
        return lambda data: None

    chunks = table(environ, start_response)
    return started[0], dict(started[1]), b"".join(chunks)


def echo(request: Request) -> Response:
    return Response(200, request.body, (("x-signature", request.headers.get("x-slack-signature", "")),))


TABLE = RouteTable([Route("POST", "/echo", echo, max_body_bytes=10)])


def test_a_route_gets_the_body_and_headers() -> None:
    status, headers, body = call(TABLE, "POST", "/echo", b"hello", HTTP_X_SLACK_SIGNATURE="v0=abc")

    assert status == "200 OK"
    assert body == b"hello"
    assert headers["x-signature"] == "v0=abc"
    assert headers["content-length"] == "5"


def test_unknown_paths_and_methods_are_refused() -> None:
    assert call(TABLE, "POST", "/nowhere")[0] == "404 Not Found"
    status, headers, _ = call(TABLE, "GET", "/echo")
    assert status == "405 Method Not Allowed"
    assert headers["allow"] == "POST"


def test_a_body_over_the_routes_cap_is_refused_unread() -> None:
    unread: dict[str, Any] = {"CONTENT_LENGTH": "11", "wsgi.input": UnreadableBody()}
    status, _, body = call(TABLE, "POST", "/echo", **unread)

    assert status == "413 Request Entity Too Large"
    assert b"limit 10 bytes" in body
    assert call(TABLE, "POST", "/echo", b"x" * 10)[0] == "200 OK"


def test_a_failing_handler_answers_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("secret detail")

    status, _, body = call(RouteTable([Route("GET", "/broken", broken)]), "GET", "/broken")

    assert status == "500 Internal Server Error"
    assert b"secret" not in body
    assert "GET /broken failed" in caplog.text


def test_the_server_cap_is_the_largest_route_cap() -> None:
    table = RouteTable([Route("POST", "/a", echo, max_body_bytes=10), Route("POST", "/b", echo, 99)])
    assert table.max_body_bytes == 99


def test_two_routes_for_one_method_and_path_are_a_mistake() -> None:
    with pytest.raises(ValueError, match="two routes"):
        RouteTable([Route("GET", "/a", echo), Route("GET", "/a", echo)])


def test_healthz_answers_while_the_process_runs() -> None:
    table = RouteTable(health_routes(lambda: ["the outbox database is unreachable (OperationalError)"]))

    status, _, body = call(table, "GET", "/healthz")

    assert (status, body) == ("200 OK", b"ok\n")


def test_readyz_names_each_problem_or_says_ready() -> None:
    problems: list[str] = []
    table = RouteTable(health_routes(lambda: list(problems)))

    assert call(table, "GET", "/readyz")[:3:2] == ("200 OK", b"ready\n")
    problems += ["the outbox database is unreachable (OperationalError)", "the worker is not running"]
    status, _, body = call(table, "GET", "/readyz")

    assert status == "503 Service Unavailable"
    assert body.decode().splitlines() == [
        "not ready:",
        "- the outbox database is unreachable (OperationalError)",
        "- the worker is not running",
    ]


def test_readyz_stays_ready_and_shows_a_paused_delivery() -> None:
    # A refused Productlane key pauses every replica alike; submissions are still taken and kept.
    notice = "delivery is paused: Productlane refused the API key (unauthenticated)"
    table = RouteTable(health_routes(lambda: [], lambda: [notice]))

    status, _, body = call(table, "GET", "/readyz")

    assert status == "200 OK"
    assert body.decode().splitlines() == ["ready", f"- {notice}"]


def test_a_probe_during_a_hanging_check_does_not_wait_for_it() -> None:
    checking, database_answers = threading.Event(), threading.Event()

    def hanging_database() -> list[str]:
        checking.set()
        database_answers.wait(timeout=30)
        return []

    check = ReadinessCheck(hanging_database, clock=lambda: 7.0)
    first = threading.Thread(target=check.problems)
    first.start()
    try:
        assert checking.wait(timeout=10)

        assert check.problems() == ["the previous readiness check has not finished after 0 s"]
    finally:
        database_answers.set()
        first.join()
    assert check.problems() == []

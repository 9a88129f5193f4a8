"""The route table and the WSGI application that serves it.

A route is a method, a path, a handler and the largest body it accepts. Adding an endpoint is one
more `Route` in the list the runtime passes to `RouteTable`; the table does the HTTP chores (404, 405,
413, reading the body, 500 on a handler's bug) so that handlers only turn a `Request` into a
`Response`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
# For routes that expect no body at all (health probes): enough for a stray one, refused beyond.
SMALL_BODY = 4 * KIB


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    # Lower-case names, as HTTP treats them case-insensitively.
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes | str = b""
    headers: Sequence[tuple[str, str]] = ()

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text + "\n", (("content-type", "text/plain; charset=utf-8"),))


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handle: Handler
    # Requests declaring a longer body are refused with 413 before it is read.
    max_body_bytes: int = SMALL_BODY


@dataclass
class RouteTable:
    """A WSGI application serving `routes`."""

    routes: Iterable[Route]
    _by_path: dict[str, dict[str, Route]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for route in self.routes:
            methods = self._by_path.setdefault(route.path, {})
            if route.method in methods:
                raise ValueError(f"two routes for {route.method} {route.path}")
            methods[route.method] = route

    def paths(self) -> list[str]:
        """Every path served, in the order the routes were given."""
        return list(self._by_path)

    @property
    def max_body_bytes(self) -> int:
        """The largest body any route accepts: the server's own cap."""
        return max(
            (route.max_body_bytes for methods in self._by_path.values() for route in methods.values()),
            default=SMALL_BODY,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        response = self.respond(environ)
        body = response.body.encode("utf-8") if isinstance(response.body, str) else response.body
        status = HTTPStatus(response.status)
        headers = [*response.headers, ("content-length", str(len(body)))]
        start_response(f"{status.value} {status.phrase}", headers)
        return [body]

    def respond(self, environ: WSGIEnvironment) -> Response:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", ""))
        methods = self._by_path.get(path)
        if methods is None:
            return Response.text(404, "not found")
        route = methods.get(method)
        if route is None:
            allowed = ", ".join(sorted(methods))
            return Response(405, "method not allowed\n", (("allow", allowed),))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return Response.text(400, "bad Content-Length")
        if length > route.max_body_bytes:
            return Response.text(413, f"request body too large (limit {route.max_body_bytes} bytes)")
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        request = Request(method, path, str(environ.get("QUERY_STRING", "")), _headers(environ), body)
        try:
            return route.handle(request)
        except Exception:
            log.exception("%s %s failed", method, path)
            return Response.text(500, "internal error")


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        name: str(environ[key])
        for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length"))
        if environ.get(key)
    }
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[len("HTTP_") :].lower().replace("_", "-")] = str(value)
    return headers

"""`GET /metrics` on PORT, in both modes, beside the health probes.

With `METRICS_TOKEN` set, a scrape must send ``Authorization: Bearer <token>`` (compared in constant
time); without it the endpoint is open, like the probes: it shows counts, never content. The
`prometheus-client` library is imported on the first scrape, not at start (see bot.metrics).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.delivery.health import DeliveryHealth
from bot.web.routes import Request, Response, Route

if TYPE_CHECKING:
    from bot.web.exposition import Exposition

__all__ = ["METRICS_PATH", "metrics_route"]

METRICS_PATH = "/metrics"
CHALLENGE = ("www-authenticate", 'Bearer realm="metrics"')


class MetricsEndpoint:
    def __init__(self, health: Callable[[], DeliveryHealth], token: str | None) -> None:
        self._health = health
        self._token = token.encode() if token else None
        self._exposition: Exposition | None = None
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if self._token is not None and not self._authorized(request.headers.get("authorization", "")):
            return Response(
                401,
                "a bearer token is required: Authorization: Bearer <METRICS_TOKEN>\n",
                (
                    ("content-type", "text/plain; charset=utf-8"),
                    ("www-authenticate", 'Bearer realm="metrics"'),
                ),
            )
        body, content_type = self._built().render(request.headers.get("accept"))
        return Response(200, body, (("content-type", content_type), ("cache-control", "no-store")))

    def _authorized(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        assert self._token is not None  # noqa: S101 - checked by the caller
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self._token)

    def _built(self) -> Exposition:
        with self._lock:
            if self._exposition is None:
                from bot.web.exposition import Exposition

                self._exposition = Exposition(self._health)
            return self._exposition


def metrics_route(health: Callable[[], DeliveryHealth], token: str | None) -> Route:
    """The route for `bot.web.routes.RouteTable`; ``health`` reads the outbox (cached a few seconds)."""
    return Route("GET", METRICS_PATH, MetricsEndpoint(health, token))

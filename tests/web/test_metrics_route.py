"""`GET /metrics` as a scraper meets it: a bearer token when METRICS_TOKEN is set (compared in constant
time, refused with a challenge), Prometheus' text format or OpenMetrics as asked, never cached."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.delivery.health import DeliveryHealth
from bot.web.metrics import metrics_route
from bot.web.routes import Request, Response

HEALTH = DeliveryHealth({}, None, None, datetime.now(UTC))


def get(token: str | None, headers: dict[str, str]) -> Response:
    route = metrics_route(lambda: HEALTH, token)
    assert (route.method, route.path) == ("GET", "/metrics")
    return route.handle(Request("GET", "/metrics", "", headers, b""))


def test_with_a_token_only_the_right_bearer_gets_in() -> None:
    for headers in (
        {},
        {"authorization": "Bearer nope"},
        {"authorization": "Basic s3cret"},
        {"authorization": "s3cret"},
    ):
        refused = get("s3cret", headers)
        assert refused.status == 401
        assert ("www-authenticate", 'Bearer realm="metrics"') in refused.headers
        assert "s3cret" not in str(refused.body)
    allowed = get("s3cret", {"authorization": "Bearer s3cret"})
    assert allowed.status == 200
    assert ("cache-control", "no-store") in allowed.headers


def test_without_a_token_it_is_open_and_speaks_openmetrics_when_asked() -> None:
    assert get(None, {}).status == 200
    answer = get(None, {"accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"})
    content_type = dict(answer.headers)["content-type"]
    assert content_type.startswith("application/openmetrics-text")
    assert isinstance(answer.body, bytes)
    assert answer.body.rstrip().endswith(b"# EOF")

"""Metrics for the people who run the bot: what the rest of the code calls, one line at
each place something happens, and `GET /metrics` (`bot.metrics.endpoint`) in Prometheus' format.

Every call here is cheap (a lock and a dict update; nothing is imported) and never raises. Label
values are short tokens only (`tally.label_value`): no user content, Slack id, thread id or secret can
become a label. The outbox gauges are read from the shared database at scrape time, so every
replica reports the same numbers; see docs/home-and-metrics.md for each metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.metrics.tally import REGISTRY

__all__ = [
    "delivered",
    "delivery_paused",
    "delivery_refused",
    "delivery_retried",
    "home_published",
    "productlane_answered",
    "productlane_event_applied",
    "productlane_no_answer",
    "slack_api_error",
    "upload",
    "webhook_answered",
]

PREFIX = "productlane_slack_"
# From "accepted" to "in Productlane": seconds when all is well, minutes behind a backlog at
# 60 a minute, hours through an outage.
DELIVERY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0)

DELIVERIES = REGISTRY.counter(
    PREFIX + "deliveries",
    "Outcomes of attempts to deliver outbox items to Productlane: delivered (the thread exists), "
    "refused (Productlane refused the content; the submitter may edit and resend), retried (a passing "
    "failure: tried again later), paused (Productlane refused the API key: waits for the operator).",
    ("outcome",),
).zero(("delivered",), ("refused",), ("retried",), ("paused",))
DELIVERY_SECONDS = REGISTRY.histogram(
    PREFIX + "delivery_seconds",
    "Seconds from a submission's acceptance (the ack) to its thread in Productlane (delivered) or its "
    "refusal (refused).",
    ("outcome",),
    DELIVERY_BUCKETS,
)
PRODUCTLANE_RESPONSES = REGISTRY.counter(
    PREFIX + "productlane_responses",
    "Productlane API answers by HTTP method and status code (429: rate limited); 'network' and "
    "'timeout' when no answer came.",
    ("method", "status"),
)
SLACK_API_ERRORS = REGISTRY.counter(
    PREFIX + "slack_api_errors",
    "Slack Web API calls that failed, by method and Slack's error code ('ratelimited', "
    "'channel_not_found', …; 'network' when Slack could not be reached).",
    ("method", "error"),
)
WEBHOOKS = REGISTRY.counter(
    PREFIX + "webhooks",
    "Productlane webhooks answered, by result: received (stored, to be applied), duplicate (a "
    "redelivery), ignored (an event the bot does not act on), refused (bad signature, stale, too large "
    "or malformed), unavailable (the database was away: Productlane retries).",
    ("result",),
).zero(("received",), ("duplicate",), ("ignored",), ("refused",), ("unavailable",))
EVENTS_APPLIED = REGISTRY.counter(
    PREFIX + "productlane_events_applied",
    "Productlane events applied to the threads the bot created, by where they came from (webhook or poll).",
    ("source",),
).zero(("webhook",), ("poll",))
UPLOADS = REGISTRY.counter(
    PREFIX + "uploads",
    "Slack files of submissions: copied (uploaded into Productlane) or linked (left a link to Slack, "
    "with a note why).",
    ("outcome",),
).zero(("copied",), ("linked",))
HOME_PUBLISHED = REGISTRY.counter(
    PREFIX + "home_published",
    "App Home tabs published, by trigger: opened (the person opened it) or changed (one of their "
    "submissions changed while they may be looking).",
    ("trigger",),
).zero(("opened",), ("changed",))


def _since(accepted_at: datetime) -> float:
    return max(0.0, (datetime.now(UTC) - accepted_at).total_seconds())


def delivered(accepted_at: datetime) -> None:
    """A submission's thread exists in Productlane (accepted at ``accepted_at``)."""
    DELIVERIES.inc("delivered")
    DELIVERY_SECONDS.observe(_since(accepted_at), "delivered")


def delivery_refused(accepted_at: datetime) -> None:
    """Productlane refused a submission for its content."""
    DELIVERIES.inc("refused")
    DELIVERY_SECONDS.observe(_since(accepted_at), "refused")


def delivery_retried() -> None:
    DELIVERIES.inc("retried")


def delivery_paused() -> None:
    """An item's send was stopped because Productlane refuses the API key itself."""
    DELIVERIES.inc("paused")


def productlane_answered(method: str, status: int) -> None:
    PRODUCTLANE_RESPONSES.inc(method, status)


def productlane_no_answer(method: str, timed_out: bool) -> None:
    PRODUCTLANE_RESPONSES.inc(method, "timeout" if timed_out else "network")


def slack_api_error(method: str, error: str) -> None:
    SLACK_API_ERRORS.inc(method, error)


def webhook_answered(status: int, body: Mapping[str, Any]) -> None:
    """What became of a webhook, from the receiver's answer (status, JSON body)."""
    if status == 503:
        result = "unavailable"
    elif status >= 400:
        result = "refused"
    elif body.get("ignored"):
        result = "ignored"
    elif body.get("duplicate"):
        result = "duplicate"
    else:
        result = "received"
    WEBHOOKS.inc(result)


def productlane_event_applied(event_id: str) -> None:
    EVENTS_APPLIED.inc("poll" if event_id.startswith("poll:") else "webhook")


def upload(copied: bool) -> None:
    UPLOADS.inc("copied" if copied else "linked")


def home_published(trigger: str) -> None:
    HOME_PUBLISHED.inc(trigger)

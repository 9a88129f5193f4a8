"""Slack's refusals, read once for every caller: the error code, whether it passes by itself, and
how long Slack asked us to wait."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.feedback.capture import TryLater

__all__ = ["TRANSIENT_ERRORS", "is_transient", "retry_after_seconds", "slack_error_code", "try_later"]

# Slack's error codes for "not now": its own trouble, or too many requests.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


def slack_error_code(error: SlackApiError) -> str:
    code = error.response.get("error") if isinstance(error.response.data, dict) else None
    return str(code or "unknown_error")


def is_transient(error: SlackApiError) -> bool:
    """Rate limited (HTTP 429), a 5xx, or one of Slack's codes for its own trouble."""
    status = int(getattr(error.response, "status_code", 200) or 200)
    return status == 429 or status >= 500 or slack_error_code(error) in TRANSIENT_ERRORS


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """Slack's Retry-After (seconds), whatever the header's case; None when absent or unreadable."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(str(text).strip()))
            except ValueError:
                return None
    return None


def try_later(method: str, error: SlackApiError) -> TryLater:
    """A transient refusal of ``method`` (see `is_transient`) as the `TryLater` that puts the work
    back, for as long as Slack asked."""
    return TryLater(f"{method}: {slack_error_code(error)}", retry_after_seconds(error.response.headers))

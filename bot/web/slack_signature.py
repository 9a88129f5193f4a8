"""Slack's request signature, checked on the raw bytes before anything in a request is read.

``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<timestamp>:<raw body>")>`` with
``X-Slack-Request-Timestamp: <unix seconds>``, refused more than five minutes either way from our
clock (a captured request cannot be replayed later). Pure: no I/O.

Everything here is shaped for input nobody vouched for: the headers are matched against their
exact shapes before any conversion (no ``int("")``), the comparison is constant-time on bytes
(``hmac.compare_digest`` raises on non-ASCII strings), and the body is never parsed. The signature
is checked before the timestamp's age, so a log can tell a forged request from a late genuine one.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from typing import Final

__all__ = ["TOLERANCE_SECONDS", "SlackSignatureProblem", "slack_signature", "slack_signature_problem"]

TOLERANCE_SECONDS: Final = 300
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_SIGNATURE: Final = re.compile(r"v0=[0-9a-f]{64}")


class SlackSignatureProblem(enum.StrEnum):
    """Why a request was refused (for one log line; never the body or the headers' values)."""

    NO_SECRET = "SLACK_SIGNING_SECRET is not set"  # noqa: S105 - a message, not a secret
    TIMESTAMP = "no usable X-Slack-Request-Timestamp"
    SIGNATURE = "no usable X-Slack-Signature"
    MISMATCH = "bad signature"
    STALE = "stale timestamp"


def slack_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The ``v0=…`` value Slack sends for ``raw_body`` at ``timestamp``."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + raw_body
    return "v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def slack_signature_problem(
    raw_body: bytes,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    *,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> SlackSignatureProblem | None:
    """None when ``signature`` signs ``raw_body`` at ``timestamp`` with ``secret``, near ``now``."""
    if not secret:
        return SlackSignatureProblem.NO_SECRET
    stamp = (timestamp or "").strip()
    if not _TIMESTAMP.fullmatch(stamp):
        return SlackSignatureProblem.TIMESTAMP
    given = (signature or "").strip()
    if not _SIGNATURE.fullmatch(given):
        return SlackSignatureProblem.SIGNATURE
    expected = slack_signature(secret, stamp, raw_body)
    if not hmac.compare_digest(given.encode("ascii"), expected.encode("ascii")):
        return SlackSignatureProblem.MISMATCH
    if abs(now - int(stamp)) > tolerance:
        return SlackSignatureProblem.STALE
    return None

"""Productlane's webhook signature: ``Productlane-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]``.

``v1`` is the hex HMAC-SHA256, keyed with the webhook's secret, of ``f"{t}.{raw_body}"`` — the
raw bytes as received, never a re-serialised body. Several ``v1`` entries may be present while
Productlane rotates a secret (not documented, so allowed): any match passes. A timestamp more
than five minutes from now is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_BODY_BYTES",
    "TOLERANCE_SECONDS",
    "SignatureHeader",
    "SignatureProblem",
    "parse_signature_header",
    "sign",
    "signature_header",
    "verify_signature",
]

MAX_BODY_BYTES = 1024 * 1024
"""Bodies above 1 MiB are refused (413) before anything else is done with them."""

TOLERANCE_SECONDS = 300
"""How far (either way) the signed timestamp may be from our clock."""

_MAX_HEADER_CHARS = 4096
_MAX_SIGNATURES = 8
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureProblem(enum.StrEnum):
    """Why a request was refused (for one log line; never the body)."""

    MISSING = "no Productlane-Signature header"
    MALFORMED = "malformed Productlane-Signature header"
    MISMATCH = "signature does not match"
    STALE = "timestamp outside the 5-minute window"
    NO_SECRET = "PRODUCTLANE_WEBHOOK_SECRET is not set"  # noqa: S105 - a message, not a secret


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]


def parse_signature_header(value: str) -> SignatureHeader | None:
    """The timestamp and the ``v1`` signatures of a header; None when it has no usable shape."""
    if len(value) > _MAX_HEADER_CHARS:
        return None
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            continue
        key, item = key.strip(), item.strip()
        if key == "t" and timestamp is None and _UNIX_SECONDS.fullmatch(item):
            timestamp = int(item)
        elif key == "v1" and _HEX_SHA256.fullmatch(item) and len(signatures) < _MAX_SIGNATURES:
            signatures.append(item.lower())
    if timestamp is None or not signatures:
        return None
    return SignatureHeader(timestamp, tuple(signatures))


def sign(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The hex ``v1`` signature of ``raw_body`` sent at ``timestamp`` (unix seconds)."""
    message = str(timestamp).encode("ascii") + b"." + raw_body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, raw_body: bytes) -> str:
    """A ``Productlane-Signature`` value with one ``v1`` per secret (for tests and fakes)."""
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, raw_body)}" for s in secrets)])


def verify_signature(
    raw_body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> SignatureProblem | None:
    """None when ``header`` signs ``raw_body`` with one of ``secrets`` at a time near ``now``.

    Every comparison is constant-time. The signature is checked before the timestamp, so a
    log can tell a forged request from a late (or replayed) genuine one.
    """
    if not secrets:
        return SignatureProblem.NO_SECRET
    if header is None or not header.strip():
        return SignatureProblem.MISSING
    parsed = parse_signature_header(header)
    if parsed is None:
        return SignatureProblem.MALFORMED
    expected = [sign(secret, parsed.timestamp, raw_body) for secret in secrets]
    matched = False
    for candidate in parsed.signatures:
        for wanted in expected:
            # No early exit: the time taken does not depend on which entry matched.
            matched |= hmac.compare_digest(candidate, wanted)
    if not matched:
        return SignatureProblem.MISMATCH
    if abs(now - parsed.timestamp) > tolerance:
        return SignatureProblem.STALE
    return None

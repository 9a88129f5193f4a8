"""Receiving a Productlane webhook, independent of any web framework.

The web layer hands over the raw body and the headers; it should refuse a body over
`MAX_BODY_BYTES` (413) from its Content-Length before reading it. Then, in this order:

1. over 1 MiB → 413;
2. unsigned, forged or stale → 401 (one log line with the reason; nothing of the body);
3. not a Productlane event (JSON object with an id and a type) → 400;
4. an event type the bot does not act on → 200, nothing stored;
5. otherwise the event is stored by its id — the signed body's, or the SHA-256 of the signed body
   when it has none; never the unsigned ``Productlane-Event-Id`` header (a redelivery changes
   nothing) → 200 at once; the
   updates worker applies it. A database failure → 503, so Productlane delivers it again.
   Events arriving together are stored in one transaction (`GroupCommit`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.updates.events import HANDLED_EVENT_TYPES, EventFormatError, parse_event
from bot.updates.inbox import GroupCommit
from bot.updates.signature import MAX_BODY_BYTES, verify_signature
from bot.updates.store import UpdatesStore

__all__ = ["SIGNATURE_HEADER", "WebhookReceiver", "WebhookResult"]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "productlane-signature"
DELIVERY_ID_HEADER = "productlane-delivery-id"

WebhookResult = tuple[int, dict[str, Any]]


class WebhookReceiver:
    """``receiver(raw_body, headers) -> (status, json_body)``; thread-safe."""

    def __init__(
        self,
        store: UpdatesStore,
        secrets: Sequence[str],
        *,
        on_event: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inbox = GroupCommit(store.add_events)
        self._secrets = list(secrets)
        self._on_event = on_event
        self._clock = clock

    def __call__(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        if len(raw_body) > MAX_BODY_BYTES:
            log.warning("refused a Productlane webhook: body over %d bytes", MAX_BODY_BYTES)
            return 413, {"ok": False, "error": "payload_too_large"}
        lower = {name.lower(): value for name, value in headers.items()}
        problem = verify_signature(raw_body, lower.get(SIGNATURE_HEADER), self._secrets, now=self._clock())
        if problem is not None:
            log.warning("refused a Productlane webhook: %s", problem.value)
            return 401, {"ok": False, "error": "invalid_signature"}
        try:
            event = parse_event(raw_body)
        except EventFormatError as error:
            log.warning("refused a signed Productlane webhook: %s", error)
            return 400, {"ok": False, "error": "invalid_event"}
        if event.type not in HANDLED_EVENT_TYPES:
            log.debug("Productlane event %s (%s) is not one the bot acts on", event.id, event.type)
            return 200, {"ok": True, "event_id": event.id, "ignored": True}
        try:
            created = self._inbox.add(event.id, event.type, event.model_dump(mode="json"))
        except (SQLAlchemyError, TimeoutError) as error:
            # Productlane retries a non-2xx answer, so nothing is lost while the database is away.
            log.error("could not store Productlane event %s (%s)", event.id, type(error).__name__)
            return 503, {"ok": False, "error": "unavailable"}
        log.info(
            "Productlane event %s (%s) %s, delivery %s",
            event.id,
            event.type,
            "received" if created else "received again (ignored)",
            _log_safe(lower.get(DELIVERY_ID_HEADER)),
        )
        if created:
            self._on_event()
        return 200, {"ok": True, "event_id": event.id, "duplicate": not created}


_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")


def _log_safe(value: str | None) -> str:
    """A header value fit for a log line (headers are not signed)."""
    return _UNSAFE.sub("", value or "")[:64] or "-"

"""``LOG_FORMAT=json``: one JSON object a line, for log shippers (Loki, Elasticsearch, CloudWatch…).

Each entry has ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``, ``message`` and
``thread``; where known, ``outbox_item_id`` (the item a delivery sender is settling) and the
Productlane exchange the client logged (``productlane_request_id``, ``productlane_method``,
``productlane_path``, ``productlane_status``, ``productlane_elapsed``); and ``exception`` with the
traceback. Nothing else of a record is copied: a field is shown only when named here, so the JSON
says no more than the text line would (no tokens, keys or message bodies, which no entry carries).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.logs.context import current_outbox_item

__all__ = ["PRODUCTLANE_FIELDS", "JsonLines"]

PRODUCTLANE_FIELDS = (
    "productlane_request_id",
    "productlane_method",
    "productlane_path",
    "productlane_status",
    "productlane_elapsed",
)


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        item = getattr(record, "outbox_item_id", None) or current_outbox_item()
        if item is not None:
            entry["outbox_item_id"] = item
        for name in PRODUCTLANE_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)

"""Setting up the log once at start: the level, the format, and the libraries kept quiet."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from bot.logs.database_errors import DatabaseErrorsByKind
from bot.logs.json_lines import JsonLines

__all__ = ["TEXT_FORMAT", "configure_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_format: str = "text", stream: TextIO | None = None) -> None:
    """``log_format`` "text" (a line a person reads) or "json" (one JSON object a line)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(DatabaseErrorsByKind())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # slack_sdk logs whole request bodies at DEBUG; keep them out unless asked for explicitly.
    if level != "DEBUG":
        logging.getLogger("slack_sdk").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)

"""The converters' promise: whatever Slack sends, the caller gets text back, never an exception.

The readers are written to shrug off malformed input field by field; this is the last line, so an
unforeseen bug costs formatting (the message goes as plain escaped text), never the feedback itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def converted(convert: Callable[[], str], fallback: Callable[[], str], what: str) -> str:
    try:
        return convert()
    except Exception as error:  # the promise above: any bug degrades, none escapes
        # The type only: an exception's message may quote the customer's words.
        log.warning("could not convert %s (%s); using its plain text", what, type(error).__name__)
    try:
        return fallback()
    except Exception as error:  # a fallback that fails leaves nothing worth sending
        log.warning("could not fall back for %s (%s)", what, type(error).__name__)
        return ""

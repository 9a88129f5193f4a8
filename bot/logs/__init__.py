"""The bot's log: readable lines by default, or with ``LOG_FORMAT=json`` one JSON object a
line for log shippers, carrying the outbox item and the Productlane request an entry is about."""

from bot.logs.context import outbox_item
from bot.logs.setup import configure_logging

__all__ = ["configure_logging", "outbox_item"]

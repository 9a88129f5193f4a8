"""Every feature's tables, so that opening the database creates them all, once.

Each feature defines its tables on `bot.db.metadata` in a schema module of its own; importing them
all here, before the database opens, is what makes "created once, at open" true whatever else the
process has imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import bot.budgets.schema
import bot.catalog.schema
import bot.channels.schema
import bot.conversation.schema
import bot.delivery.schema
import bot.floods.schema
import bot.home.schema
import bot.updates.schema  # noqa: F401 - imported for the tables they register
from bot.db import Database

__all__ = ["open_database"]


def open_database(
    database_url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    sqlite_synchronous: str = "NORMAL",
    sqlite_busy_timeout_ms: int = 10_000,
) -> Database:
    """Open (create, migrate) the bot's database with every feature's tables."""
    if clock is None:
        return Database(
            database_url, sqlite_synchronous=sqlite_synchronous, sqlite_busy_timeout_ms=sqlite_busy_timeout_ms
        )
    return Database(
        database_url,
        clock=clock,
        sqlite_synchronous=sqlite_synchronous,
        sqlite_busy_timeout_ms=sqlite_busy_timeout_ms,
    )

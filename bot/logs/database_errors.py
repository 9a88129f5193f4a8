"""A database error is logged by its kind, never with its statement, parameters or traceback.

A failed INSERT of a submission would otherwise carry the customer's words and email into the log:
in SQLAlchemy's message (its parameters; the engines also hide them), in the driver's message, and in
a traceback's frames. Where the bot logs an exception that came from the database, the entry keeps
its message and gains the error's type and SQLSTATE (PostgreSQL's code, when there is one).
"""

from __future__ import annotations

import logging

__all__ = ["DatabaseErrorsByKind", "database_error_kind"]

_DATABASE_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "_sqlite3")


def _from_database(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in _DATABASE_MODULES


def database_error_kind(error: BaseException) -> str | None:
    """The kind of a database error (e.g. "OperationalError, SQLSTATE 57P01"), or None for another."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _from_database(current):
            original = getattr(current, "orig", None)
            driver_error = original if isinstance(original, BaseException) else current
            sqlstate = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
            kind = type(driver_error).__name__
            return f"{kind}, SQLSTATE {sqlstate}" if sqlstate else kind
        current = current.__cause__ or current.__context__
    return None


class DatabaseErrorsByKind(logging.Filter):
    """Replaces a database error's traceback with its kind (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind = database_error_kind(record.exc_info[1])
            if kind is not None:
                record.msg = f"{record.getMessage()} (database error: {kind})"
                record.args = None
                record.exc_info = None
                record.exc_text = None
        return True

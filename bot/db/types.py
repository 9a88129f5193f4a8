"""Column types shared by every feature's tables, the same on SQLite and PostgreSQL.

Times are stored as whole microseconds since the Unix epoch (UTC) in BIGINT columns, so
comparisons and ordering are exact and identical on both; the Python side only ever sees
timezone-aware UTC datetimes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["ID", "JSON", "EncodedJson", "UtcMicros", "encode_json", "from_micros", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Whole microseconds since the epoch; refuses naive datetimes (whose zone is a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware datetime (UTC)")
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The timezone-aware UTC datetime for microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


class UtcMicros(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as BIGINT microseconds since the epoch (UTC)."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""An auto-incrementing primary key: BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite."""


class _Json(sa.TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL. The PostgreSQL dialect is imported only when a
    PostgreSQL database is used, so a SQLite bot never loads it (start-up time, memory)."""

    impl = sa.JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(sa.JSON(none_as_null=True))


JSON = _Json()
"""A JSON document column (JSONB on PostgreSQL)."""


class EncodedJson(str):
    """A value already encoded as a JSON object (e.g. by pydantic's `model_dump_json`, in Rust):
    stored as it is, not decoded and encoded again on the ack path."""


def encode_json(value: Any) -> str:
    return value if isinstance(value, EncodedJson) else json.dumps(value)


MAX_ERROR_CHARS = 500
"""What an error column keeps (``String(500)``)."""


def short_error(error: str) -> str:
    """An error message cut to what an error column keeps, marked as cut."""
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"

"""The "Productlane refuses the API key itself" pause: one row per key in the outbox's database, so
every replica stops writing until an operator fixes the key, and one of them checks it now and then.

`key_problem` tells such a refusal from a refusal of what was sent: every feature that writes to
Productlane (delivery, the conversation's replies) pauses on the same refusals, with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.budgets.schema import key_problems
from bot.db import Database
from bot.db.types import from_micros, short_error, to_micros
from bot.productlane import (
    AuthenticationError,
    ProductlaneError,
    ScopeError,
    UnsupportedKeyVersionError,
)

__all__ = [
    "KEY_PROBE_SECONDS",
    "WRITE_SCOPE",
    "KeyPause",
    "KeyProblem",
    "key_problem",
    "missing_scope_message",
]

WRITE_SCOPE = "threads:write"
KEY_PROBE_SECONDS = 30.0

_NEW_KEY = (
    "create a v2 API key (pl_v2_…) with threads:write in Productlane → Settings → API, "
    "put it in PRODUCTLANE_API_KEY and restart the bot"
)


def key_problem(error: ProductlaneError) -> tuple[str, str] | None:
    """``(code, what the operator must fix)`` when Productlane refused the bot's API key itself,
    which no submitter can fix; None for a refusal of the submission (or anything else)."""
    if isinstance(error, UnsupportedKeyVersionError):
        return (
            error.code or "unsupported_key_version",
            "Productlane refused the API key (unsupported_key_version: a v1 key, which API v2 "
            f"no longer accepts): {_NEW_KEY}.",
        )
    if isinstance(error, AuthenticationError):
        return (
            error.code or "unauthenticated",
            f"Productlane refused the API key (unauthenticated: missing, invalid or revoked): {_NEW_KEY}.",
        )
    if isinstance(error, ScopeError) and error.code == "scope_required":
        return "scope_required", missing_scope_message(error.required or [WRITE_SCOPE], error.granted)
    return None


def missing_scope_message(required: list[str], granted: list[str]) -> str:
    needed = ", ".join(required)
    return (
        f"Productlane refused the API key (scope_required: it lacks {needed}; it has "
        f"{', '.join(granted) or 'none'}): give the key {needed} in Productlane, or "
        f"{_NEW_KEY.replace('threads:write', needed)}."
    )


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """Productlane refuses the API key itself: writes for ``key`` are paused until it works."""

    key: str
    code: str
    message: str
    """What the operator must fix, in words (never key material)."""
    since: datetime
    probe_at: datetime
    """When the next check of the key (GET /me) is due."""


def _key_problem(row: sa.Row[Any]) -> KeyProblem:
    m = row._mapping
    return KeyProblem(
        key=m["key"],
        code=m["code"],
        message=m["message"],
        since=from_micros(int(m["since_us"])),
        probe_at=from_micros(int(m["probe_at_us"])),
    )


class KeyPause:
    """Pauses of writes per key, shared by every process on the outbox's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_key_problem(
        self, key: str, code: str, message: str, *, probe_at: datetime, now: datetime | None = None
    ) -> bool:
        """Pause writes for ``key`` until `clear_key_problem`. True when this call started the
        pause; a pause already there gets the newer code and message, and keeps its probe time."""
        at = self._db.now(now)
        values = {"code": code[:64], "message": short_error(message)}
        with self._db.writing() as conn:
            created = conn.execute(
                self._db.insert_for(key_problems)
                .values(
                    key=key, since_us=to_micros(at), probe_at_us=to_micros(self._db.now(probe_at)), **values
                )
                .on_conflict_do_nothing(index_elements=[key_problems.c.key])
                .returning(key_problems.c.key)
            ).scalar_one_or_none()
            if created is None:
                conn.execute(sa.update(key_problems).where(key_problems.c.key == key).values(**values))
        return created is not None

    def update_key_problem(self, key: str, code: str, message: str) -> None:
        """A newer reason for a pause that is still there (it is not brought back if lifted)."""
        with self._db.writing() as conn:
            conn.execute(
                sa.update(key_problems)
                .where(key_problems.c.key == key)
                .values(code=code[:64], message=short_error(message))
            )

    def key_problem(self, key: str) -> KeyProblem | None:
        """The pause for ``key``, if writes are paused."""
        with self._db.reading() as conn:
            row = conn.execute(sa.select(key_problems).where(key_problems.c.key == key)).one_or_none()
        return None if row is None else _key_problem(row)

    def is_paused(self, key: str) -> bool:
        """Whether writes for ``key`` are paused (one read of the primary key, nothing else)."""
        query = sa.select(key_problems.c.code).where(key_problems.c.key == key)
        with self._db.reading() as conn:
            return conn.execute(query).first() is not None

    def key_problems(self) -> list[KeyProblem]:
        """Every pause (for `check`, which does not know the limiter key)."""
        with self._db.reading() as conn:
            return [_key_problem(row) for row in conn.execute(sa.select(key_problems))]

    def claim_key_probe(
        self, key: str, every_seconds: float, *, force: bool = False, now: datetime | None = None
    ) -> bool:
        """True for the one caller that should check the key now; the next check is then due in
        ``every_seconds``. ``force`` ignores the schedule (a process that has just started)."""
        at = self._db.now(now)
        due = key_problems.c.key == key
        if not force:
            due = sa.and_(due, key_problems.c.probe_at_us <= to_micros(at))
        with self._db.writing() as conn:
            claimed = conn.execute(
                sa.update(key_problems)
                .where(due)
                .values(probe_at_us=to_micros(at + timedelta(seconds=every_seconds)))
            ).rowcount
        return int(claimed) == 1

    def defer_key_probe(self, key: str, until: datetime) -> None:
        """No check of the key before ``until`` (e.g. GET /me answered 429 Retry-After)."""
        until_us = to_micros(self._db.now(until))
        with self._db.writing() as conn:
            conn.execute(
                sa.update(key_problems)
                .where(key_problems.c.key == key, key_problems.c.probe_at_us < until_us)
                .values(probe_at_us=until_us)
            )

    def clear_key_problem(self, key: str) -> bool:
        """The key works again: every replica resumes writing. True if a pause was lifted."""
        with self._db.writing() as conn:
            return int(conn.execute(sa.delete(key_problems).where(key_problems.c.key == key)).rowcount) == 1

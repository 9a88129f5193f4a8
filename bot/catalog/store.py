"""The catalog in the outbox's database: what every replica reads its lists from, and the lease
that lets one replica at a time refresh a list.

A refresh is claimed per list (`claim`): the row of that list gets this process as its lease owner
until `lease_until`, in a write transaction that re-checks the row is due and unleased (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's one writer at a time), so two replicas never read the
same list from Productlane at once. A replica that dies mid-refresh leaves a lease that runs out;
another takes the list over then. Saving a refresh (`save`) re-checks the lease in the same
transaction, writes only what changed, and bumps the list's version when anything did: every
process compares versions (`states`, one small query) and reloads a list whose version moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.catalog.entries import Entry
from bot.catalog.kinds import Kind
from bot.catalog.schema import entries, kinds
from bot.db import Database

__all__ = ["CatalogStore", "KindState"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DETAIL_MAX = 500


@dataclass(frozen=True)
class KindState:
    kind: Kind
    status: str  # unknown | ok | unavailable | failed
    version: int
    count: int
    detail: str | None
    refreshed_at: datetime | None
    next_refresh_at: datetime
    lease_until: datetime | None


def _row(entry: Entry) -> dict[str, Any]:
    return {"name": entry.name, "aliases": list(entry.aliases), "closed": entry.closed}


class CatalogStore:
    """The catalog's two tables. Safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self._db = db
        with self._writing() as conn:
            conn.execute(
                self._db.insert_for(kinds)
                .values(
                    [
                        {"kind": kind.value, "status": "unknown", "version": 0, "count": 0}
                        | {"next_refresh_at": _EPOCH}
                        for kind in Kind
                    ]
                )
                .on_conflict_do_nothing(index_elements=[kinds.c.kind])
            )

    def _writing(self) -> AbstractContextManager[Connection]:
        return self._db.writing()

    def now(self) -> datetime:
        return self._db.now()

    # -- reading ---------------------------------------------------------------------------------

    def states(self) -> dict[Kind, KindState]:
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(kinds)).all()
        found: dict[Kind, KindState] = {}
        for row in rows:
            m = row._mapping
            if m["kind"] not in Kind.__members__.values():
                continue
            found[Kind(m["kind"])] = KindState(
                kind=Kind(m["kind"]),
                status=m["status"],
                version=int(m["version"]),
                count=int(m["count"]),
                detail=m["detail"],
                refreshed_at=m["refreshed_at"],
                next_refresh_at=m["next_refresh_at"],
                lease_until=m["lease_until"],
            )
        return found

    def load(self, kind: Kind) -> tuple[int, list[Entry]]:
        """The list's version and entries, read in one transaction (they belong together)."""
        with self._db.reading() as conn:
            version = conn.execute(sa.select(kinds.c.version).where(kinds.c.kind == kind.value)).scalar()
            rows = conn.execute(
                sa.select(entries.c.id, entries.c.name, entries.c.aliases, entries.c.closed).where(
                    entries.c.kind == kind.value
                )
            ).all()
        return int(version or 0), [
            Entry(id=row.id, name=row.name, aliases=tuple(row.aliases or ()), closed=bool(row.closed))
            for row in rows
        ]

    # -- refreshing ------------------------------------------------------------------------------

    def recheck(self, statuses: Sequence[str] = ("unknown", "unavailable", "failed")) -> None:
        """Make lists in these states due now (a new process, perhaps with a new key)."""
        with self._writing() as conn:
            conn.execute(
                sa.update(kinds).where(kinds.c.status.in_(statuses)).values(next_refresh_at=self.now())
            )

    def claim(self, owner: str, lease_seconds: float, only: Iterable[Kind] = tuple(Kind)) -> Kind | None:
        """Take the lease on the list most overdue for a refresh; None when none is due."""
        at = self.now()
        names = [kind.value for kind in only]
        due = sa.and_(
            kinds.c.kind.in_(names),
            kinds.c.next_refresh_at <= at,
            sa.or_(kinds.c.lease_until.is_(None), kinds.c.lease_until <= at),
        )
        pick = (
            sa.select(kinds.c.kind)
            .where(due)
            .order_by(kinds.c.next_refresh_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._writing() as conn:
            found = conn.execute(pick).scalar()
            if found is None:
                return None
            taken = conn.execute(
                sa.update(kinds)
                .where(kinds.c.kind == found, due)
                .values(lease_owner=owner, lease_until=at + timedelta(seconds=lease_seconds))
            ).rowcount
        return Kind(found) if taken == 1 else None

    def renew(self, kind: Kind, owner: str, lease_seconds: float) -> bool:
        """Keep the lease while the refresh goes on; False when it is no longer ours."""
        at = self.now()
        with self._writing() as conn:
            return (
                conn.execute(
                    sa.update(kinds)
                    .where(self._ours(kind, owner, at))
                    .values(lease_until=at + timedelta(seconds=lease_seconds))
                ).rowcount
                == 1
            )

    def _locked_if_ours(self, kind: Kind, owner: str, at: datetime) -> sa.Select[Any]:
        """The list's status and version, locked for the rest of the transaction; no row when the
        lease is not (or no longer) ours."""
        mine = self._ours(kind, owner, at)
        return sa.select(kinds.c.status, kinds.c.version).where(mine).with_for_update()

    @staticmethod
    def _ours(kind: Kind, owner: str, at: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(kinds.c.kind == kind.value, kinds.c.lease_owner == owner, kinds.c.lease_until > at)

    def save(
        self, kind: Kind, owner: str, fetched: Sequence[Entry], next_at: datetime
    ) -> tuple[int, bool] | None:
        """Replace the list with what a refresh read, writing only the differences; release the
        lease. The list's version and whether anything changed (then the version moved), or None
        when the lease was lost (another process has the list now; nothing is written)."""
        at = self.now()
        wanted = {entry.id: entry for entry in fetched}
        with self._writing() as conn:
            state = conn.execute(self._locked_if_ours(kind, owner, at)).one_or_none()
            if state is None:
                return None
            present = {
                row.id: (row.name, tuple(row.aliases or ()), bool(row.closed))
                for row in conn.execute(
                    sa.select(entries.c.id, entries.c.name, entries.c.aliases, entries.c.closed).where(
                        entries.c.kind == kind.value
                    )
                )
            }
            gone = [item_id for item_id in present if item_id not in wanted]
            new = [entry for item_id, entry in wanted.items() if item_id not in present]
            changed = [
                entry
                for item_id, entry in wanted.items()
                if item_id in present and present[item_id] != (entry.name, entry.aliases, entry.closed)
            ]
            for first in range(0, len(gone), 500):
                conn.execute(
                    sa.delete(entries).where(
                        entries.c.kind == kind.value, entries.c.id.in_(gone[first : first + 500])
                    )
                )
            if new:
                conn.execute(sa.insert(entries), [{"kind": kind.value, "id": e.id} | _row(e) for e in new])
            for entry in changed:
                conn.execute(
                    sa.update(entries)
                    .where(entries.c.kind == kind.value, entries.c.id == entry.id)
                    .values(**_row(entry))
                )
            moved = bool(gone or new or changed or state.status != "ok")
            version = int(state.version) + int(moved)
            conn.execute(
                sa.update(kinds)
                .where(kinds.c.kind == kind.value)
                .values(
                    status="ok",
                    version=version,
                    count=len(wanted),
                    detail=None,
                    refreshed_at=at,
                    next_refresh_at=next_at,
                    lease_owner=None,
                    lease_until=None,
                )
            )
        return version, moved

    def give_up(self, kind: Kind, owner: str, status: str, detail: str, next_at: datetime) -> bool:
        """End a refresh that read nothing usable: ``unavailable`` (the key may not read the list:
        its entries are dropped, the field disappears) or ``failed`` (the last good entries stay).
        Releases the lease; False when it was no longer ours."""
        at = self.now()
        with self._writing() as conn:
            state = conn.execute(self._locked_if_ours(kind, owner, at)).one_or_none()
            if state is None:
                return False
            values: dict[str, Any] = {
                "detail": detail[:DETAIL_MAX],
                "next_refresh_at": next_at,
                "lease_owner": None,
                "lease_until": None,
            }
            if status == "unavailable" or state.status != "ok":
                values["status"] = status
            if status == "unavailable":
                conn.execute(sa.delete(entries).where(entries.c.kind == kind.value))
                values["count"] = 0
            if values.get("status", state.status) != state.status:
                values["version"] = int(state.version) + 1
            conn.execute(sa.update(kinds).where(kinds.c.kind == kind.value).values(**values))
        return True

"""What became of each Slack file of an outbox item: kept with the item by its lease owner.

The copying itself, within the shared budgets, is `bot.budgets.file_copies.FileCopier`; this is the
ledger it writes to for new feedback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.budgets.file_copies import FileCopier, copy_columns, copy_from_row, purge_daily_counts
from bot.db import Database
from bot.delivery.outbox import Outbox, OutboxItem, Status
from bot.delivery.schema import copied_files, items
from bot.feedback.capture import CopiedFile, SlackFile


def copies_of(db: Database, item_id: int) -> dict[str, CopiedFile]:
    """What is recorded for the item's files, by Slack file id."""
    query = sa.select(copied_files).where(copied_files.c.item_id == item_id)
    with db.reading() as connection:
        rows = connection.execute(query).all()
    return {row.file_id: copy_from_row(row) for row in rows}


def record_copy(
    db: Database, item_id: int, owner: str, file_id: str, copy: CopiedFile, *, now: datetime | None = None
) -> bool:
    """Keep what became of one file with the item. Only the item's lease owner may (False else)."""
    at = now or datetime.now(UTC)
    values = {"item_id": item_id, "file_id": file_id[:64], **copy_columns(copy), "copied_at": at}
    owned = sa.select(items.c.id).where(
        items.c.id == item_id,
        items.c.status == Status.SENDING.value,
        items.c.lease_owner == owner,
        items.c.lease_until > at,
    )
    statement = db.insert_for(copied_files).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[copied_files.c.item_id, copied_files.c.file_id],
        set_={name: statement.excluded[name] for name in values if name not in ("item_id", "file_id")},
    )
    with db.writing() as connection:
        if connection.execute(owned.with_for_update()).first() is None:
            return False
        connection.execute(statement)
    return True


def purge_copies(db: Database, *, now: datetime | None = None) -> int:
    """Forget the copies of items that are gone, and the daily counts older than yesterday."""
    with db.writing() as connection:
        removed = connection.execute(
            sa.delete(copied_files).where(copied_files.c.item_id.not_in(sa.select(items.c.id)))
        ).rowcount
    purge_daily_counts(db, now=now)
    return int(removed)


class ItemLedger:
    """The copies of an outbox item's files, kept with the item by its lease owner."""

    def __init__(self, outbox: Outbox, item: OutboxItem, owner: str, lease_seconds: float) -> None:
        self._outbox = outbox
        self._item = item
        self._owner = owner
        self._lease = lease_seconds

    @property
    def started_at(self) -> datetime:
        return self._item.created_at

    @property
    def label(self) -> str:
        return f"item {self._item.id}"

    def copies(self) -> dict[str, CopiedFile]:
        return copies_of(self._outbox.database, self._item.id)

    def record(self, file_id: str, copy: CopiedFile) -> bool:
        return record_copy(self._outbox.database, self._item.id, self._owner, file_id, copy)

    def renew(self) -> bool:
        return self._outbox.renew_lease(self._item.id, self._owner, self._lease)

    def wait_before_writing(self) -> float:
        return 0.0  # new feedback: nothing goes before it


def copy_item_files(
    copier: FileCopier,
    outbox: Outbox,
    item: OutboxItem,
    files: Sequence[SlackFile],
    owner: str,
    lease_seconds: float,
    *,
    channel_id: str | None = None,
) -> dict[str, CopiedFile]:
    """What became of each file of ``item`` (by id), copying those not yet done, within the share of
    ``channel_id`` (the channel it was filed from). Raises `CopyLater`, `LeaseLost` or `KeyRefused`;
    everything copied before that is kept with the item."""
    return copier.copy_into(ItemLedger(outbox, item, owner, lease_seconds), files, channel_id=channel_id)

"""Channel settings in the outbox's database, shared by every replica.

Every change bumps one version number in the same transaction, so a replica learns of any change by
reading that number (see `bot.channels.cache`). Changes are merges: each names the keys it sets, the
others keep what the channel had (see `ChannelSettings.merged`). A channel whose settings come back to
the defaults loses its row: it behaves as a channel without settings, and the listing stays short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.channels.model import ChannelSettings
from bot.channels.schema import deleted_messages, settings, version
from bot.db import Database

# A deleted message is remembered this long: Slack retries an event for about an hour at most.
DELETED_KEPT_FOR = timedelta(days=7)
CLI = "cli"


@dataclass(frozen=True)
class Snapshot:
    """Every channel's settings, and the version they are at."""

    version: int
    channels: tuple[ChannelSettings, ...]


@dataclass(frozen=True)
class Change:
    """What one edit did to a channel (``before`` None: it had no settings; ``after`` is the result)."""

    channel: str
    before: ChannelSettings | None
    after: ChannelSettings

    @property
    def changed(self) -> bool:
        return (self.before or ChannelSettings(channel=self.channel)) != self.after


def _settings_of(row: sa.Row[Any]) -> ChannelSettings:
    m = row._mapping
    return ChannelSettings.model_validate(
        {
            "channel": m["channel_id"],
            "company_id": m["company_id"],
            "pain_level": m["pain_level"],
            "tag_ids": tuple(m["tag_ids"] or ()),
            "capture": m["capture"],
            "confirm": m["confirm"],
            "followups": bool(m["followups"]),
            "replies": bool(m["replies"]),
        }
    )


def _row_of(channel: ChannelSettings, at: datetime, by: str | None) -> dict[str, Any]:
    row = channel.model_dump(mode="json")  # a column a field, each as JSON holds it (enums by value)
    row["channel_id"] = row.pop("channel")
    return row | {"updated_at": at, "updated_by": by}


class ChannelSettingsStore:
    """Reads and writes channel settings. Safe to share between threads (as `Database` is)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        with db.writing() as conn:
            conn.execute(
                db.insert_for(version)
                .values(id=1, version=0)
                .on_conflict_do_nothing(index_elements=[version.c.id])
            )
        self._read_version = sa.select(version.c.version).where(version.c.id == 1)

    def version(self) -> int:
        """The settings' version: it changes whenever any channel's settings do. One row read."""
        with self._db.reading() as conn:
            return int(conn.execute(self._read_version).scalar_one())

    def load(self) -> Snapshot:
        """Every channel's settings and their version, read together."""
        with self._db.reading() as conn:
            at = int(conn.execute(self._read_version).scalar_one())
            rows = conn.execute(sa.select(settings).order_by(settings.c.channel_id)).all()
        return Snapshot(at, tuple(_settings_of(row) for row in rows))

    def get(self, channel_id: str) -> ChannelSettings | None:
        with self._db.reading() as conn:
            row = conn.execute(sa.select(settings).where(settings.c.channel_id == channel_id)).first()
        return None if row is None else _settings_of(row)

    def changed_by(self, channel_id: str) -> tuple[str | None, datetime] | None:
        """Who changed a channel's settings last (a user id, or "cli") and when."""
        query = sa.select(settings.c.updated_by, settings.c.updated_at).where(
            settings.c.channel_id == channel_id
        )
        with self._db.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row[0], row[1])

    def preview(self, edits: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Change]:
        """What `apply` would do, without writing."""
        with self._db.reading() as conn:
            return self._changes(conn, edits)

    def apply(
        self, edits: Sequence[tuple[str, Mapping[str, Any]]], *, by: str | None, now: datetime | None = None
    ) -> list[Change]:
        """Merge each ``(channel, {key: value})`` into that channel's settings, all in one transaction
        (all or nothing). A ValueError (a value the model refuses) writes nothing."""
        at = self._db.now(now)
        with self._db.writing() as conn:
            changes = self._changes(conn, edits)
            for change in changes:
                if not change.changed:
                    continue
                if change.after == ChannelSettings(channel=change.channel):
                    conn.execute(sa.delete(settings).where(settings.c.channel_id == change.channel))
                    continue
                row = _row_of(change.after, at, by)
                statement = self._db.insert_for(settings).values(row)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[settings.c.channel_id],
                        set_={key: statement.excluded[key] for key in row if key != "channel_id"},
                    )
                )
            if any(change.changed for change in changes):
                conn.execute(
                    sa.update(version).where(version.c.id == 1).values(version=version.c.version + 1)
                )
        return changes

    def _changes(self, conn: sa.Connection, edits: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Change]:
        channels = [channel for channel, _ in edits]
        rows = conn.execute(sa.select(settings).where(settings.c.channel_id.in_(channels))).all()
        current = {row._mapping["channel_id"]: _settings_of(row) for row in rows}
        changes = []
        for channel, values in edits:
            before = current.get(channel)
            after = (before or ChannelSettings(channel=channel)).merged(values)
            current[channel] = after
            changes.append(Change(channel, before, after))
        return changes

    # -- messages deleted in automatic channels ---------------------------------------------------

    def mark_deleted(self, channel_id: str, ts: str, *, now: datetime | None = None) -> None:
        """Remember that the message at channel/ts was deleted in Slack (once; Slack may say it twice).
        Forgets deletions older than a week in the same transaction."""
        at = self._db.now(now)
        with self._db.writing() as conn:
            conn.execute(
                self._db.insert_for(deleted_messages)
                .values(channel_id=channel_id, ts=ts, deleted_at=at)
                .on_conflict_do_nothing(index_elements=[deleted_messages.c.channel_id, deleted_messages.c.ts])
            )
            conn.execute(
                sa.delete(deleted_messages).where(deleted_messages.c.deleted_at < at - DELETED_KEPT_FOR)
            )

    def was_deleted(self, channel_id: str, ts: str) -> bool:
        query = sa.select(deleted_messages.c.ts).where(
            deleted_messages.c.channel_id == channel_id, deleted_messages.c.ts == ts
        )
        with self._db.reading() as conn:
            return conn.execute(query).first() is not None

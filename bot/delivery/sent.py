"""Has this Slack message already been sent to Productlane? The duplicate guard's own small table.

One row per source message (channel, ts), written when its thread is created and read before a
modal opens: a primary-key lookup, however many submissions the outbox has seen. The rows hold no
message text, so they outlive the outbox items (see bot/delivery/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.db import Database
from bot.delivery.schema import sent_messages


@dataclass(frozen=True)
class SentRecord:
    thread_url: str | None
    submitter_id: str | None
    delivered_at: datetime


_FIND = sa.select(
    sent_messages.c.thread_url, sent_messages.c.submitter_id, sent_messages.c.delivered_at
).where(sent_messages.c.channel_id == sa.bindparam("channel_id"), sent_messages.c.ts == sa.bindparam("ts"))


def find_sent(db: Database, channel_id: str, ts: str) -> SentRecord | None:
    """The latest delivery of the message at channel/ts, if any."""
    with db.reading() as connection:
        row = connection.execute(_FIND, {"channel_id": channel_id, "ts": ts}).first()
    if row is None:
        return None
    return SentRecord(thread_url=row[0], submitter_id=row[1], delivered_at=row[2])


def record_sent(
    db: Database,
    channel_id: str,
    ts: str,
    *,
    thread_id: str,
    thread_url: str,
    submitter_id: str,
    delivered_at: datetime | None = None,
) -> None:
    """Remember that the message at channel/ts is in Productlane (the latest delivery wins)."""
    values = {
        "channel_id": channel_id,
        "ts": ts,
        "thread_id": thread_id,
        "thread_url": thread_url,
        "submitter_id": submitter_id,
        "delivered_at": delivered_at or datetime.now(UTC),
    }
    statement = db.insert_for(sent_messages).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[sent_messages.c.channel_id, sent_messages.c.ts],
        set_={
            name: statement.excluded[name]
            for name in ("thread_id", "thread_url", "submitter_id", "delivered_at")
        },
    )
    with db.writing() as connection:
        connection.execute(statement)

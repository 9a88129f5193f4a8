"""Has this Slack message already been sent to Productlane? Read from the outbox's delivered items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bot.delivery.outbox import Outbox, Status
from bot.delivery.schema import items


@dataclass(frozen=True)
class SentRecord:
    thread_url: str | None
    submitter_id: str | None
    delivered_at: datetime


def find_sent(outbox: Outbox, channel_id: str, ts: str) -> SentRecord | None:
    """The latest delivery of the message at channel/ts, if any.

    It reads the JSON payload, so it scans delivered items; fine for the volumes of feedback a
    team sends (an index on the source would be the next step for very large outboxes).
    """
    source = items.c.payload["source"]
    query = (
        sa.select(items.c.result, items.c.payload["submitter_id"].as_string(), items.c.updated_at)
        .where(
            # Delivered, or its thread created and only the confirmation in Slack still to post.
            sa.or_(items.c.status == Status.DELIVERED.value, items.c.result.is_not(None)),
            source["channel_id"].as_string() == channel_id,
            source["ts"].as_string() == ts,
        )
        .order_by(items.c.updated_at.desc())
        .limit(1)
    )
    with outbox.reading() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    result = row[0] if isinstance(row[0], dict) else {}
    delivered_at = row[2] if isinstance(row[2], datetime) else datetime.fromisoformat(str(row[2]))
    return SentRecord(thread_url=result.get("url"), submitter_id=row[1], delivered_at=delivered_at)

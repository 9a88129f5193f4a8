"""New feedback goes first: follow-ups share Productlane's 60 writes a minute with new threads, and
take a write only while no new thread waits for one.

The delivery worker and the follow-up sender take their writes from the same limiter
(`WriteLimits`, one key per workspace), one a second. Before each write (a comment, a PATCH, an
upload of a follow-up's file) the sender asks whether a submission is due or being sent — one
indexed read of the outbox — and holds back while one is. A new thread can then be delayed only by
the one write a follow-up took just before it arrived: at most one second.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.delivery.intake import KIND, UPDATE_KIND
from bot.delivery.outbox import Outbox
from bot.delivery.schema import items

__all__ = ["NewFeedbackFirst"]


class NewFeedbackFirst:
    """``waiting()``: whether a submission needs Productlane's write budget now."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def waiting(self) -> bool:
        at = self._outbox.database.now()
        # Still to be created (no result yet): due now, or claimed by a sender and on its way
        # (its files uploading, its slot being waited for). "Edit details" changes count too:
        # a person is waiting for them. A confirmation still to post needs no write.
        query = (
            sa.select(items.c.id)
            .where(
                sa.or_(
                    sa.and_(items.c.status == "pending", items.c.next_attempt_at <= at),
                    items.c.status == "sending",
                ),
                items.c.kind.in_((KIND, UPDATE_KIND)),
                items.c.result.is_(None),
            )
            .limit(1)
        )
        with self._outbox.database.reading() as conn:
            return conn.execute(query).first() is not None

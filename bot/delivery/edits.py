"""Finding the outbox items behind "Edit details": the item a reaction filed (by its
dedupe key, which names the message), and the latest change made to its thread since."""

from __future__ import annotations

import sqlalchemy as sa

from bot.delivery.intake import Intake, submission_of
from bot.delivery.outbox import Outbox, OutboxItem
from bot.delivery.schema import items
from bot.delivery.sent import SentRecord, find_sent
from bot.feedback.submission import EditTarget, Filed, Submission, edit_key


def item_by_key(outbox: Outbox, dedupe_key: str) -> OutboxItem | None:
    with outbox.database.reading() as connection:
        found = connection.execute(sa.select(items.c.id).where(items.c.dedupe_key == dedupe_key)).scalar()
    return None if found is None else outbox.get(int(found))


def latest_edit(outbox: Outbox, item_id: int) -> OutboxItem | None:
    """The newest "Edit details" change to the thread of ``item_id`` (any status), if any."""
    prefix = edit_key(str(item_id), "")
    query = (
        sa.select(items.c.id)
        .where(items.c.dedupe_key.startswith(prefix, autoescape=True))
        .order_by(items.c.id.desc())
        .limit(1)
    )
    with outbox.database.reading() as connection:
        found = connection.execute(query).scalar()
    return None if found is None else outbox.get(int(found))


class OutboxFiling:
    """Filing by reaction, and "Edit details", on the outbox (what the Slack side asks of delivery)."""

    def __init__(self, outbox: Outbox, intake: Intake) -> None:
        self._outbox = outbox
        self._intake = intake

    def already_sent(self, channel_id: str, ts: str) -> SentRecord | None:
        """The message's latest delivery when it is in Productlane already (its thread's link and
        who sent it); None when it is not."""
        return find_sent(self._outbox.database, channel_id, ts)

    def file(self, submission: Submission) -> Filed:
        added = self._intake.add(submission)
        if added.created:
            return Filed(created=True, submitter_id=submission.submitter_id)
        item = self._outbox.get(added.id)
        first = submission_of(item)
        url = (item.result or {}).get("url") if item is not None else None
        return Filed(
            created=False,
            submitter_id=first.submitter_id if first else None,
            thread_url=str(url) if url else None,
        )

    def edit_target(self, dedupe_key: str) -> EditTarget | None:
        """The item filed under ``dedupe_key`` with what its thread says now (after earlier edits)."""
        item = item_by_key(self._outbox, dedupe_key)
        original = submission_of(item)
        if item is None or original is None:
            return None
        latest = submission_of(latest_edit(self._outbox, item.id))
        return EditTarget(item_id=str(item.id), form=(latest or original).form, source=original.source)

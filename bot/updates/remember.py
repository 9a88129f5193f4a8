"""Which Slack thread belongs to a Productlane thread the bot created: recorded once the
confirmation reply is posted, read whenever Productlane says something about that thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.feedback.submission import Submission
from bot.productlane.models import CreateThread, Thread, ThreadOrigin
from bot.slack.replies import Confirmation
from bot.triage.confirmation import confirmation_for

__all__ = ["RememberedThread", "thread_record_from_delivery"]


@dataclass(frozen=True)
class RememberedThread:
    """The Slack side of one thread the bot created."""

    thread_id: str
    confirmation: Confirmation
    """What the confirmation reply says, so it can be rendered again with a status line."""
    channel_id: str
    """Where milestone replies go ..."""
    thread_ts: str | None
    """... and in which Slack thread (None: as a reply to the confirmation itself)."""
    reply_channel_id: str | None
    reply_ts: str | None
    """The confirmation reply, edited with chat.update; None when unknown (no edits then)."""
    is_slack_connect: bool
    status: str = "open"
    status_as_of: datetime | None = None
    """The thread's `updated_at` when it was created: any later snapshot is newer."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def thread_record_from_delivery(
    submission: Submission,
    request: CreateThread,
    thread: Thread | Mapping[str, Any],
    thread_url: str,
    reply: Mapping[str, Any] | None,
) -> RememberedThread | None:
    """The record for a delivered submission; None when there is nowhere in Slack to post.

    ``thread`` may be the outbox item's result, which also keeps the reply's ``notes`` and, after
    "Edit details", ``edited_by``. ``reply`` is where the confirmation landed, as the delivery
    worker records it in the outbox item's result: ``{"channel", "ts", "thread_ts"}`` (None or
    partial when unknown). Milestones go where the confirmation is (its thread, or a thread under
    it), else in the source message's thread; a confirmation that was only shown to one person
    (ephemeral) leaves nothing to keep.
    """
    is_slack_connect = request.origin is ThreadOrigin.slack_connect
    kept: Mapping[str, Any] = thread if isinstance(thread, Mapping) else {}
    # Everything the reply showed, so a status edit of it loses nothing: what stayed in Slack
    # (the notes on the thread and files), the Edit details button, who edited the details last.
    confirmation = confirmation_for(
        submission,
        request,
        thread_url,
        [str(note) for note in kept.get("notes") or ()],
        edited_by=_text(kept.get("edited_by")),
    )
    reply_channel = _text((reply or {}).get("channel"))
    reply_ts = _text((reply or {}).get("ts"))
    reply_thread = _text((reply or {}).get("thread_ts"))
    if reply_channel and reply_ts:
        channel, thread_ts = reply_channel, reply_thread or reply_ts
    elif submission.source is not None:
        channel, thread_ts = submission.source.channel_id, submission.source.thread_ts
        reply_channel = reply_ts = None
    else:
        return None
    thread_id, status, status_as_of = _thread_facts(thread)
    return RememberedThread(
        thread_id=thread_id,
        confirmation=confirmation,
        channel_id=channel,
        thread_ts=thread_ts,
        reply_channel_id=reply_channel,
        reply_ts=reply_ts,
        is_slack_connect=is_slack_connect,
        status=status if status in ("open", "snoozed", "done") else "open",
        status_as_of=status_as_of,
    )


def _thread_facts(thread: Thread | Mapping[str, Any]) -> tuple[str, str, datetime | None]:
    """Id, status and `updated_at` of the created thread: the API's `Thread`, or the delivered
    item's result (``thread_id``, ``status``, ``updated_at`` in ISO 8601) as the worker keeps it."""
    if isinstance(thread, Thread):
        status = thread.status if isinstance(thread.status, str) else "open"
        return thread.id, status, thread.updated_at
    raw_at = thread.get("updated_at")
    try:
        status_as_of = datetime.fromisoformat(raw_at) if isinstance(raw_at, str) else None
    except ValueError:
        status_as_of = None
    raw_status = thread.get("status")
    return str(thread["thread_id"]), raw_status if isinstance(raw_status, str) else "open", status_as_of

"""Small builders shared by the updates tests."""

from __future__ import annotations

from typing import Any

from bot.slack.replies import Confirmation
from bot.updates.remember import RememberedThread
from bot.updates.store import UpdatesStore


def record(thread_id: str = "th_1", **changes: Any) -> RememberedThread:
    values: dict[str, Any] = {
        "thread_id": thread_id,
        "confirmation": Confirmation("https://pl.test/feedback/" + thread_id, "Title", "High", None, "U1"),
        "channel_id": "C1",
        "thread_ts": "100.000001",
        "reply_channel_id": "C1",
        "reply_ts": "100.000002",
        "is_slack_connect": False,
    }
    values.update(changes)
    return RememberedThread(**values)


def add(
    store: UpdatesStore, event_id: str, data: dict[str, Any], event_type: str = "thread.status_changed"
) -> bool:
    return store.add_event(event_id, event_type, {"id": event_id, "type": event_type, "data": data})

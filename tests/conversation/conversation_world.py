"""The real `productlane-slack` process for the conversation's end-to-end tests, and the moves that
drive it: file a customer's message, reply in its Slack thread (as Slack sends the event, and as
Slack keeps the thread for `conversations.replies`), and read what Productlane received."""

from __future__ import annotations

import copy
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import (
    World,
    bot_environment,
    interact,
    opened_view,
    since,
    start_bot,
    submit,
    updates_settled,
    wait_until,
)

SCOPES = ("threads:read", "threads:write", "files:write", "comments:write")
# FOLLOWUP_BATCH_SECONDS for these bots: the spacing and gathering of 10 s (the default), shortened
# to the setting's lowest: replies written within half a second go together, a thread gets a write a
# second at most.
BATCH = 1.0
SECRET = "whsec_conversation_0123456789abcdef"
CHANNEL = "C0FEEDBACK"
CUSTOMER = "U0CUST0003"  # Jane Doe
WEBHOOK_EVENTS = ("thread.*", "customer_need.*", "issue.*", "project.*", "message.*", "comment.*")


@contextmanager
def running(
    home: Path,
    extra: Mapping[str, str] | None = None,
    *,
    scopes: tuple[str, ...] = SCOPES,
    slack: FakeSlack | None = None,
    productlane: FakeProductlane | None = None,
    webhooks: bool = True,
    log_name: str = "bot.log",
) -> Iterator[World]:
    """The bot with webhooks on (the fake Productlane delivers `message.*` and `comment.*` too)."""
    with contextlib_fakes(slack, productlane, scopes) as (fake_slack, fake_productlane):
        env = bot_environment(fake_slack, fake_productlane, home / "outbox.db")
        env["FOLLOWUP_BATCH_SECONDS"] = str(BATCH)
        if webhooks:
            env["PRODUCTLANE_WEBHOOK_SECRET"] = SECRET
        env |= dict(extra or {})
        world = start_bot(fake_slack, fake_productlane, env, home, home / log_name)
        try:
            wait_until(
                lambda: "connected to Slack" in world.log_text() or world.bot.poll() is not None, "start", 30
            )
            assert world.bot.poll() is None, world.log_text()
            if webhooks:
                wait_until(lambda: "listening on port" in world.log_text(), "the webhook route", 30)
                fake_productlane.add_webhook(webhook_url(world), SECRET, WEBHOOK_EVENTS)
            yield world
        finally:
            if world.bot.poll() is None:
                world.bot.send_signal(signal.SIGTERM)
                world.bot.wait(timeout=30)
        if world.bot.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(world.log_text())
        secrets = (fake_slack.bot_token, fake_slack.app_token, fake_productlane.api_key, SECRET)
        assert not [secret for secret in secrets if secret in world.log_text()]


@contextmanager
def contextlib_fakes(
    slack: FakeSlack | None, productlane: FakeProductlane | None, scopes: tuple[str, ...]
) -> Iterator[tuple[FakeSlack, FakeProductlane]]:
    if slack is not None and productlane is not None:
        yield slack, productlane
        return
    with FakeSlack() as fake_slack, FakeProductlane(scopes=scopes) as fake_productlane:
        yield fake_slack, fake_productlane


def webhook_url(world: World) -> str:
    text = world.log_text()
    marker = "listening on port "
    port = int(text[text.index(marker) + len(marker) :].split()[0])
    return f"http://127.0.0.1:{port}/productlane/webhooks"


def customer_message(slack: FakeSlack, ts: str, text: str, channel: str = CHANNEL) -> dict[str, Any]:
    """A top-level message by the customer, in Slack's history."""
    message = {
        "type": "message",
        "user": CUSTOMER,
        "team": "T0ACME0001",
        "ts": ts,
        "text": text,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "b1",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
    }
    return slack.web.add_message(channel, message)


def file_message(world: World, ts: str, text: str, channel: str = CHANNEL) -> str:
    """The message shortcut on a customer's message, submitted as it opened: its thread's id in
    Productlane, once the confirmation is in Slack (from then on the Slack thread is followed)."""
    message = customer_message(world.slack, ts, text, channel)
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=message, channel=channel)
    interact(world, payload)
    submit(world, opened_view(world, mark, refreshed=True), {})
    world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=20,
        predicate=lambda c: since(mark)(c) and c.params.get("thread_ts") == ts,
    )
    thread_id = str(next(t["id"] for t in world.productlane.threads if text in t["text"]))
    # Followed from the moment the confirmation is recorded, a few ms after it is posted.
    wait_until(
        lambda: f"following the Slack thread of thread {thread_id}" in world.log_text(), "followed", 10
    )
    return thread_id


def reply_event(
    world: World,
    thread_ts: str,
    ts: str,
    text: str,
    *,
    channel: str = CHANNEL,
    user: str = CUSTOMER,
    files: list[dict[str, Any]] | None = None,
    in_history: bool = True,
) -> dict[str, Any]:
    """A person's reply in a thread: kept in Slack's history and sent as Slack sends the event.
    Returns the events_api payload (send it again to play Slack's retry)."""
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "channel_type": "channel",
        "user": user,
        "team": "T0ACME0001",
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "event_ts": ts,
        "parent_user_id": CUSTOMER,
    }
    if files:
        event |= {"subtype": "file_share", "files": files}
    if in_history:
        world.slack.web.add_message(
            channel, {k: v for k, v in event.items() if k not in ("channel", "event_ts")}
        )
    payload = world.slack.events_api_payload(event)
    send(world, payload)
    return payload


def send(world: World, payload: Mapping[str, Any]) -> None:
    """An events_api envelope over the socket, and its ack awaited."""
    envelope = world.slack.socket.send_envelope("events_api", copy.deepcopy(dict(payload)))
    world.slack.socket.wait_ack(envelope, timeout=10)


def edit_event(world: World, thread_ts: str, ts: str, text: str, *, channel: str = CHANNEL) -> None:
    now = f"{time.time():.6f}"
    event = {
        "type": "message",
        "subtype": "message_changed",
        "channel": channel,
        "hidden": True,
        "ts": now,
        "event_ts": now,
        "message": {
            "type": "message",
            "user": CUSTOMER,
            "team": "T0ACME0001",
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "edited": {"user": CUSTOMER, "ts": now},
        },
        "previous_message": {"type": "message", "user": CUSTOMER, "ts": ts, "thread_ts": thread_ts},
    }
    with world.slack.web.lock:
        for message in world.slack.web.messages.get(channel, []):
            if message.get("ts") == ts:
                message["text"] = text
    send(world, world.slack.events_api_payload(event))


def delete_event(world: World, thread_ts: str, ts: str, *, channel: str = CHANNEL) -> None:
    now = f"{time.time():.6f}"
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": channel,
        "hidden": True,
        "ts": now,
        "event_ts": now,
        "deleted_ts": ts,
        "previous_message": {
            "type": "message",
            "user": CUSTOMER,
            "ts": ts,
            "thread_ts": thread_ts,
            "text": "?",
        },
    }
    with world.slack.web.lock:
        history = world.slack.web.messages.get(channel, [])
        history[:] = [message for message in history if message.get("ts") != ts]
    send(world, world.slack.events_api_payload(event))


def settled(world: World) -> None:
    """The bot is done with every follow-up it kept (each sent, deleted or dropped, no thread's
    batch under way) and with every Productlane event: nothing more comes of what was sent to it."""
    updates_settled(
        world, "SELECT count(*) FROM conversation_followups WHERE status IN ('pending', 'sending')"
    )


def comments(world: World, thread_id: str) -> list[dict[str, Any]]:
    return world.productlane.conversation.comments_on(thread_id)


def wait_for_comments(
    world: World, thread_id: str, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    wait_until(
        lambda: len(comments(world, thread_id)) >= count, f"{count} comment(s) on {thread_id}", timeout
    )
    return comments(world, thread_id)


def next_ts(base: float = 1764300000.0) -> str:
    """A fresh Slack ts (unique per call within a test run)."""
    next_ts.counter = getattr(next_ts, "counter", 0) + 1  # type: ignore[attr-defined]
    return f"{base + next_ts.counter:.6f}"  # type: ignore[attr-defined]

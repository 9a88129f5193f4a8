"""Operator commands: `productlane-slack outbox [--all] [--show-text]` and `outbox retry <id>|--failed`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.budgets.key_pause import KeyPause
from bot.delivery.outbox import Outbox, OutboxItem, Status
from bot.delivery.retention import purge
from bot.floods import NO_LIMITS, FloodStore
from bot.settings import Settings
from bot.tables import open_database
from bot.updates.store import UpdatesStore

WAITING = ("pending", "sending", "failed")
ALL = (*WAITING, "superseded", "delivered")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def describe_item(item: OutboxItem, *, show_text: bool) -> str:
    """One item, without message bodies unless asked: bodies are customers' words."""
    payload = item.payload if isinstance(item.payload, dict) else {}
    source = payload.get("source") or {}
    where = f"{source.get('channel_id')}/{source.get('ts')}" if source else "(no source message)"
    lines = [
        f"{item.id}  {item.status:<9}  attempts={item.attempts}  created={_when(item.created_at)}"
        f"  next={_when(item.next_attempt_at)}",
        f"    submitter={payload.get('submitter_id')}  source={where}",
    ]
    if item.superseded_by is not None:
        lines.append(f"    superseded by {item.superseded_by} (Edit and resend): never sent")
    if item.last_error:
        lines.append(f"    last error: {item.last_error}")
    result = item.result or {}
    if result.get("url"):
        waiting = "" if item.status is Status.DELIVERED else " (the confirmation in Slack is still to post)"
        lines.append(f"    thread: {result['url']}{waiting}")
    if show_text:
        form = payload.get("form") or {}
        lines.append(f"    title: {form.get('title') or '(from the message)'}")
        content = source.get("content") or {}
        text = content.get("text") or ""
        if text:
            lines.append("    text: " + text.replace("\n", "\n          "))
    return "\n".join(lines)


def pause_lines(outbox: Outbox) -> list[str]:
    """Say so when delivery is paused because Productlane refuses the API key."""
    return [
        f"Delivery is paused: {problem.message} Items wait as pending and are sent by themselves "
        "once the key works; `retry` is not needed."
        for problem in KeyPause(outbox.database).key_problems()
    ]


def _retry_one(outbox: Outbox, retry_id: str, echo: Callable[[str], None]) -> int:
    if retry_id.isdigit() and outbox.requeue(int(retry_id)):
        echo(f"re-queued {retry_id}")
        return 0
    item = outbox.get(int(retry_id)) if retry_id.isdigit() else None
    if item is not None and item.superseded_by is not None:
        echo(
            f"not re-queued: {retry_id} was replaced by {item.superseded_by} (Edit and resend), "
            "so sending it would send the feedback twice"
        )
        return 1
    echo(f"no pending or failed item {retry_id} (see `productlane-slack outbox --all`)")
    return 1


def run_outbox_command(
    settings: Settings,
    *,
    retry_id: str | None,
    retry_failed: bool,
    include_delivered: bool,
    show_text: bool,
    purge_days: int | None = None,
    echo: Callable[[str], None] = print,
    outbox: Outbox | None = None,
) -> int:
    opened = None
    if outbox is None:
        opened = open_database(
            settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms()
        )
        outbox = Outbox(opened)
    try:
        if purge_days is not None:
            if purge_days < 1:
                echo("--days must be at least 1")
                return 2
            forget = (UpdatesStore(outbox.database).forget_confirmations,)
            held = FloodStore(outbox.database, NO_LIMITS)
            result = purge(
                outbox, timedelta(days=purge_days), forget=forget, also=[lambda before: held.purge(before)]
            )
            echo(
                f"purged {result.delivered_items} delivered item(s) older than {purge_days} day(s), "
                f"{result.drafts} unsubmitted draft(s), the words of {result.forgotten} "
                f"confirmation(s) and {result.others} item(s) the flood limits held; failed and pending "
                "items are kept"
            )
            return 0
        for line in pause_lines(outbox):
            echo(line)
        if retry_failed:
            requeued = outbox.requeue_failed()
            superseded = outbox.counts()[Status.SUPERSEDED]
            skipped = f"; {superseded} superseded by an edited resend left alone" if superseded else ""
            echo(f"re-queued {requeued} failed item(s){skipped}")
            return 0
        if retry_id:
            return _retry_one(outbox, retry_id, echo)
        items = outbox.list_items(statuses=ALL if include_delivered else WAITING)
        counts = outbox.counts()
        echo(" · ".join(f"{status}: {counts.get(Status(status), 0)}" for status in ALL))
        for item in items:
            echo(describe_item(item, show_text=show_text))
        return 0
    finally:
        if opened is not None:
            opened.close()

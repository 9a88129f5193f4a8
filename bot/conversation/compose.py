"""A batch of follow-ups as the HTML of one Productlane comment. Pure: names, links and file copies
arrive already looked up.

Each reply gets a line saying who wrote it and when, the time linking to the reply in Slack —
"<strong>Jane Doe</strong> in Slack, <a href=…>14:02 UTC</a>:" — then its words and files, rendered
as the thread body renders a message (`bot.render`): built escaped, sanitized with nh3. The links
are also how a comment is recognised later (see `Batch.marker`): a reply's Slack link holds its ts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from bot.render.document import CopiedFile, safe_url
from bot.render.message_html import message_to_html, sanitize_html
from bot.render.names import NameResolver

__all__ = ["ReplyView", "followup_html", "reply_time"]


@dataclass(frozen=True)
class ReplyView:
    """One follow-up as it is shown."""

    author: str
    ts: str
    permalink: str | None
    message: Mapping[str, Any]
    edited: bool = False


def reply_time(ts: str) -> str:
    """When a Slack message was written, as "14:02 UTC" (empty when the ts is unreadable)."""
    try:
        moment = datetime.fromtimestamp(float(ts), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%H:%M UTC")


def _header(reply: ReplyView) -> str:
    author = escape(reply.author)
    when = escape(reply_time(reply.ts) or "a reply")
    link = safe_url(reply.permalink or "")
    shown = f'<a href="{escape(link)}">{when}</a>' if link else when
    edited = " (edited)" if reply.edited else ""
    return f"<p><strong>{author}</strong> in Slack, {shown}{edited}:</p>"


def followup_html(
    replies: Sequence[ReplyView], names: NameResolver, copies: Mapping[str, CopiedFile] | None = None
) -> str:
    """The comment: every reply in order, each under its line; empty when none has anything to
    show (the header alone still says that someone replied)."""
    parts = [_header(reply) + message_to_html(reply.message, names, copies) for reply in replies]
    return sanitize_html("".join(parts))

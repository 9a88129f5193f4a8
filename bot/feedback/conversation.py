"""A whole Slack thread as a Productlane thread body: the conversation in order, each message with
its author's name and time, its content and files, the one that was pointed at marked. Bot and system
messages in between are left out. Pure: names and file copies arrive already looked up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

from bot.feedback.source import SYSTEM_SUBTYPES
from bot.render.document import CopiedFile, date_text
from bot.render.message_html import message_to_html
from bot.render.names import NameResolver

# The most HTML of conversation one thread body carries. Productlane documents no limit on `text`;
# 50,000 characters keeps a body well inside any request-size limit (a 30-reply thread with files
# is ~20,000) and readable. Messages beyond it are counted, and linked to in Slack.
THREAD_BODY_MAX: Final = 50_000

# Subtypes people write (a reply also sent to the channel, a file, /me): kept like plain messages.
_HUMAN_SUBTYPES: Final = frozenset({"thread_broadcast", "file_share", "me_message"})


def is_human(message: Mapping[str, Any]) -> bool:
    """A person's message: not a bot's (bot_id, bot_message) and not one Slack wrote itself."""
    subtype = message.get("subtype")
    if message.get("bot_id") or subtype == "bot_message":
        return False
    if subtype in SYSTEM_SUBTYPES:
        return False
    return subtype is None or subtype in _HUMAN_SUBTYPES


def included_messages(thread: Sequence[Mapping[str, Any]], pointed_ts: str) -> list[Mapping[str, Any]]:
    """The messages that go into the body, in order: people's, and the pointed-at one whatever it is."""
    ordered = sorted(thread, key=lambda message: _ts_key(message.get("ts")))
    return [message for message in ordered if message.get("ts") == pointed_ts or is_human(message)]


def _ts_key(ts: Any) -> float:
    try:
        return float(str(ts))
    except ValueError:
        return 0.0


def _author(message: Mapping[str, Any], names: NameResolver) -> str:
    user = message.get("user")
    if isinstance(user, str) and user:
        try:
            name = names.user_name(user)
        except Exception:  # a failed lookup costs a name, never the body
            name = None
        return f"@{name}" if name else f"@{user}"
    profile = message.get("bot_profile")
    bot_name = profile.get("name") if isinstance(profile, Mapping) else None
    return str(message.get("username") or bot_name or "a bot")


def _header(message: Mapping[str, Any], names: NameResolver, pointed: bool) -> str:
    author = escape(_author(message, names))
    when = escape(date_text(message.get("ts")))
    marker = " · <em>the message this feedback was sent from</em>" if pointed else ""
    who = f"<strong>➤ {author}</strong>" if pointed else f"<strong>{author}</strong>"
    return f"<p>{who}{' · ' + when if when else ''}{marker}</p>"


def conversation_html(
    thread: Sequence[Mapping[str, Any]],
    pointed_ts: str,
    names: NameResolver,
    copies: Mapping[str, CopiedFile],
    thread_link: str | None,
    limit: int = THREAD_BODY_MAX,
) -> str:
    """The thread's people's messages in order, within ``limit`` characters of HTML (the pointed-at
    one always), then a line saying how many were left out, linking to the thread in Slack."""
    rendered = [
        (
            message.get("ts") == pointed_ts,
            _header(message, names, message.get("ts") == pointed_ts)
            + message_to_html(message, names, copies),
        )
        for message in included_messages(thread, pointed_ts)
    ]
    pointed_size = sum(len(html) for is_pointed, html in rendered if is_pointed)
    room = limit - pointed_size
    parts: list[str] = []
    left_out = 0
    full = False
    for is_pointed, html in rendered:
        if is_pointed:
            parts.append(html)
            continue
        if full or len(html) > room:
            full = True
            left_out += 1
            continue
        parts.append(html)
        room -= len(html)
    if left_out:
        many = left_out != 1
        what = f"{left_out} more message{'s' if many else ''} of this thread {'were' if many else 'was'}"
        link = f' <a href="{escape(thread_link)}">Read the whole thread in Slack.</a>' if thread_link else ""
        parts.append(f"<p><em>{what} left out to keep this short.</em>{link}</p>")
    return "".join(parts)

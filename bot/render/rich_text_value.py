"""Slash-command text (mrkdwn as Slack sends it) → a rich_text value to prefill a rich_text_input.

Keeps links, mentions and channel references as real elements, so nothing typed after `/feedback` is
lost on the way into the modal. Slack only sends these tokens as `<…>`; everything else is text.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TOKEN = re.compile(r"<([^<>]+)>")
_BROADCASTS = {"here", "channel", "everyone"}


def _token_element(token: str) -> dict[str, Any] | None:
    target, _, label = token.partition("|")
    if target.startswith("@") and len(target) > 1:
        return {"type": "user", "user_id": target[1:]}
    if target.startswith("#") and len(target) > 1:
        return {"type": "channel", "channel_id": target[1:]}
    if target.startswith("!subteam^"):
        return {"type": "usergroup", "usergroup_id": target.removeprefix("!subteam^")}
    if target.startswith("!") and target[1:] in _BROADCASTS:
        return {"type": "broadcast", "range": target[1:]}
    if re.match(r"(?i)^(https?|mailto):", target):
        element: dict[str, Any] = {"type": "link", "url": html.unescape(target)}
        if label:
            element["text"] = html.unescape(label)
        return element
    return None


def mrkdwn_to_rich_text(text: str) -> dict[str, Any]:
    """A rich_text block holding one section with `text`'s words, links and mentions."""
    elements: list[dict[str, Any]] = []
    position = 0
    for match in _TOKEN.finditer(text):
        element = _token_element(match.group(1))
        if element is None:
            continue  # not a Slack token: leave it in the surrounding text
        if match.start() > position:
            elements.append({"type": "text", "text": html.unescape(text[position : match.start()])})
        elements.append(element)
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": html.unescape(text[position:])})
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}

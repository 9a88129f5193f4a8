"""Slack messages → plain text (no markup, mentions as names): the modal's preview and title.

Reads the same document as the HTML converter, so both say the same thing. Never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.document import (
    Block,
    Image,
    Inline,
    ListBlock,
    Paragraph,
    Preformatted,
    Quote,
    as_str,
    clean_text,
    is_blank,
)
from bot.render.fallback import converted
from bot.render.message import message_blocks
from bot.render.mrkdwn import decode_entities, mrkdwn_blocks
from bot.render.names import NameResolver
from bot.render.rich_text import rich_text_blocks

ELLIPSIS = "…"
_LIST_INDENT = "  "


def message_to_plain_text(message: Mapping[str, Any], names: NameResolver) -> str:
    return converted(
        lambda: render_plain_text(message_blocks(message, names)),
        lambda: _plain_fallback(message.get("text")),
        "message",
    )


def rich_text_to_plain_text(block: Mapping[str, Any], names: NameResolver) -> str:
    return converted(lambda: render_plain_text(rich_text_blocks(block, names)), str, "rich text")


def mrkdwn_to_plain_text(text: str, names: NameResolver) -> str:
    return converted(
        lambda: render_plain_text(mrkdwn_blocks(as_str(text), names)),
        lambda: _plain_fallback(text),
        "mrkdwn",
    )


def title_from_text(text: str, limit: int) -> str:
    """The first non-empty line, whitespace collapsed, cut on a word boundary with "…" to ≤ limit.

    A single word longer than half the room is cut inside it rather than leave a stub title.
    """

    def title() -> str:
        lines = clean_text(as_str(text)).split("\n")
        line = next((" ".join(line.split()) for line in lines if line.strip()), "")
        if len(line) <= limit:
            return line
        if limit <= len(ELLIPSIS):
            return ELLIPSIS[: max(limit, 0)]
        room = limit - len(ELLIPSIS)
        cut = line[:room]
        if line[room] != " ":
            space = cut.rfind(" ")
            if space >= room // 2:
                cut = cut[:space]
        return cut.rstrip() + ELLIPSIS

    return converted(title, str, "title") if isinstance(limit, int) else ""


def _plain_fallback(raw: Any) -> str:
    return clean_text(decode_entities(raw)) if isinstance(raw, str) else ""


def render_plain_text(blocks: list[Block]) -> str:
    lines: list[str] = []
    _blocks(blocks, lines)
    return "\n".join(lines)


def _blocks(blocks: list[Block], lines: list[str]) -> None:
    for block in blocks:
        if isinstance(block, Paragraph):
            if not is_blank(block.inlines):
                lines.extend(_inline_text(block.inlines).split("\n"))
        elif isinstance(block, Preformatted):
            code = _inline_text(block.inlines)
            if code.strip():
                lines.extend(code.split("\n"))
        elif isinstance(block, Quote):
            inner: list[str] = []
            _blocks(block.blocks, inner)
            lines.extend(f"> {line}" if line else ">" for line in inner)
        elif isinstance(block, Image):
            lines.append("[image]")
        else:
            _list(block, lines, depth=0)


def _list(block: ListBlock, lines: list[str], depth: int) -> None:
    indent = _LIST_INDENT * depth
    for number, item in enumerate(block.items, start=block.start):
        marker = f"{number}." if block.ordered else "•"
        first, *rest = _inline_text(item.inlines).split("\n")
        lines.append(f"{indent}{marker} {first}".rstrip())
        hanging = indent + " " * (len(marker) + 1)
        lines.extend(f"{hanging}{line}" for line in rest)
        for child in item.children:
            _list(child, lines, depth + 1)


def _inline_text(inlines: list[Inline]) -> str:
    return "".join(node.text for node in inlines)

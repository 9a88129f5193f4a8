"""Slack messages → the HTML of a Productlane thread.

Built escaped (every text node and attribute goes through `html.escape`), then cleaned by nh3
with an explicit allowlist, so nothing a Slack message holds can become live markup in Productlane.
Every public function returns sanitized HTML and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import nh3

from bot.render.document import (
    Block,
    CopiedFile,
    Image,
    Inline,
    Link,
    ListBlock,
    Paragraph,
    Preformatted,
    Quote,
    Style,
    as_str,
    clean_text,
    is_blank,
)
from bot.render.fallback import converted
from bot.render.message import message_blocks
from bot.render.mrkdwn import decode_entities, mrkdwn_blocks
from bot.render.names import NameResolver
from bot.render.rich_text import rich_text_blocks

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "LINK_REL",
    "message_to_html",
    "mrkdwn_to_html",
    "rich_text_to_html",
    "sanitize_html",
]

ALLOWED_TAGS: Final = frozenset(
    {"p", "br", "strong", "em", "s", "u", "code", "pre", "blockquote", "ul", "ol", "li", "a", "img"}
)
# `start` keeps an ordered list's numbering when Slack continues it (offset) or a list is split
# around a nested one. It cannot carry script, and `_attribute_filter` drops any value but digits.
# `img` shows a screenshot Productlane keeps a copy of: `src` only, whole http(s) URLs only.
ALLOWED_ATTRIBUTES: Final = {"a": frozenset({"href"}), "ol": frozenset({"start"}), "img": frozenset({"src"})}
ALLOWED_URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# nh3 sets rel on every link; we keep its default, stated here so it is a choice and one place
# to change: links leave Productlane without an opener handle or the thread's URL as referrer.
LINK_REL: Final = "noopener noreferrer"


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "start":
        return value if value.isascii() and value.isdigit() and len(value) <= 9 else None
    if attribute == "src":
        # nh3's scheme list is shared with links; a picture may only come from http(s).
        return value if value.strip().lower().startswith(("http://", "https://")) else None
    return value


# A picture whose src was refused is an empty <img>: nothing to show, so it goes too. nh3 writes
# every tag it keeps in this one normalised shape, so the pattern cannot miss a variant.
_EMPTY_IMG = re.compile(r"<img>")


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    # Built on first use, not at import: the bot's idle memory and start-up stay lean until
    # something is actually sent.
    import nh3

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        url_relative="deny",  # only whole http(s)/mailto URLs; a relative one means nothing there
        link_rel=LINK_REL,
        strip_comments=True,
    )


def sanitize_html(html: str) -> str:
    """`html` with only the allowlisted tags, attributes and URL schemes left.

    A second pass changes nothing on well-formed HTML such as the converters' (and joins of it);
    badly misnested HTML may still be rearranged by the parser, safely, on each pass.
    """

    def clean() -> str:
        # Text is cleaned before (nh3 cannot take lone surrogates) and after (entities like
        # &#x202e; decode to bidi controls); removing characters from text never makes markup.
        cleaned = clean_text(_cleaner().clean(clean_text(html if isinstance(html, str) else "")))
        cleaned = _EMPTY_IMG.sub("", cleaned)
        # An HTML parser drops one newline right after <pre>; doubling it keeps a code block
        # that starts with an empty line intact, and a second pass stable.
        return cleaned.replace("<pre>\n", "<pre>\n\n")

    return converted(clean, lambda: "", "HTML")


def message_to_html(
    message: Mapping[str, Any], names: NameResolver, copies: Mapping[str, CopiedFile] | None = None
) -> str:
    """A Slack message (a message_shortcut's "message") → HTML: body, attachments, files.

    ``copies``: the message's files that delivery copied into Productlane (or could not), by id.
    """
    return converted(
        lambda: sanitize_html(render_html(message_blocks(message, names, copies))),
        lambda: _escaped_paragraph(as_str(message.get("text"))),
        "message",
    )


def rich_text_to_html(block: Mapping[str, Any], names: NameResolver) -> str:
    """One rich_text block (e.g. a modal's rich_text_input value) → HTML."""
    return converted(
        lambda: sanitize_html(render_html(rich_text_blocks(block, names))),
        lambda: "",
        "rich text",
    )


def mrkdwn_to_html(text: str, names: NameResolver) -> str:
    """Slack mrkdwn (entity-encoded, with <…> tokens) → HTML."""
    return converted(
        lambda: sanitize_html(render_html(mrkdwn_blocks(as_str(text), names))),
        lambda: _escaped_paragraph(text),
        "mrkdwn",
    )


def _escaped_paragraph(raw: str) -> str:
    plain = clean_text(decode_entities(raw)) if isinstance(raw, str) else ""
    return sanitize_html(f"<p>{escape(plain)}</p>") if plain.strip() else ""


def render_html(blocks: list[Block]) -> str:
    """The document as escaped HTML (not yet sanitized)."""
    out: list[str] = []
    _blocks(blocks, out)
    return "".join(out)


def _blocks(blocks: list[Block], out: list[str]) -> None:
    for block in blocks:
        if isinstance(block, Paragraph):
            if not is_blank(block.inlines):
                out.append("<p>")
                _inlines(block.inlines, out, pre=False)
                out.append("</p>")
        elif isinstance(block, Preformatted):
            body: list[str] = []
            _inlines(block.inlines, body, pre=True)
            code = "".join(body)
            if code.strip():
                # See sanitize_html: a leading newline needs a second one to survive parsing.
                out.append("<pre>\n" + code + "</pre>" if code.startswith("\n") else f"<pre>{code}</pre>")
        elif isinstance(block, Quote):
            inner: list[str] = []
            _blocks(block.blocks, inner)
            if inner:
                out.extend(("<blockquote>", *inner, "</blockquote>"))
        elif isinstance(block, Image):
            out.append(f'<p><img src="{escape(block.url)}"></p>')
        else:
            _list(block, out)


def _list(block: ListBlock, out: list[str]) -> None:
    if block.ordered:
        out.append("<ol>" if block.start == 1 else f'<ol start="{block.start:d}">')
    else:
        out.append("<ul>")
    for item in block.items:
        out.append("<li>")
        _inlines(item.inlines, out, pre=False)
        for child in item.children:
            _list(child, out)
        out.append("</li>")
    out.append("</ol>" if block.ordered else "</ul>")


_STYLE_TAGS: Final = (
    (Style.BOLD, "strong"),
    (Style.ITALIC, "em"),
    (Style.STRIKE, "s"),
    (Style.UNDERLINE, "u"),
    (Style.CODE, "code"),
)


@lru_cache(maxsize=64)
def _tags(style: int) -> tuple[str, str]:
    names = [tag for flag, tag in _STYLE_TAGS if style & flag]
    return "".join(f"<{tag}>" for tag in names), "".join(f"</{tag}>" for tag in reversed(names))


def _escaped(raw: str, pre: bool) -> str:
    escaped = escape(raw, quote=False)
    return escaped if pre else escaped.replace("\n", "<br>")


def _inlines(inlines: list[Inline], out: list[str], pre: bool) -> None:
    # Inside <pre> Slack shows no styles; elsewhere runs of equally styled text share one tag.
    index, count = 0, len(inlines)
    while index < count:
        node = inlines[index]
        opening, closing = _tags(0 if pre else node.style)
        if isinstance(node, Link):
            label = _escaped(node.text, pre)
            out.append(f'<a href="{escape(node.url)}">{opening}{label}{closing}</a>')
            index += 1
            continue
        end = index + 1
        while end < count and not isinstance(inlines[end], Link) and inlines[end].style == node.style:
            end += 1
        raw = node.text if end == index + 1 else "".join(part.text for part in inlines[index:end])
        if raw:
            out.append(opening + _escaped(raw, pre) + closing)
        index = end

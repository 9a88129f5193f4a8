"""The small document model Slack formats are read into, and the HTML and plain text written from.

Readers (rich_text, mrkdwn, Block Kit, attachments, files) only build these nodes; writers only walk
them. So the two outputs agree on what a message says, and the safety rules live in one place:
text is cleaned when a node is made, and a `Link` only ever holds an http(s) or mailto URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple


class Style:
    """Inline styles as bit flags (plain ints: they are combined for every piece of text)."""

    BOLD: Final = 1
    ITALIC: Final = 2
    STRIKE: Final = 4
    UNDERLINE: Final = 8
    CODE: Final = 16


class Text(NamedTuple):
    text: str  # already cleaned: build with `text()`
    style: int = 0


class Link(NamedTuple):
    url: str  # http, https or mailto only: build with `link()`
    text: str
    style: int = 0


Inline = Text | Link


@dataclass(slots=True)
class Paragraph:
    inlines: list[Inline]


@dataclass(slots=True)
class Preformatted:
    inlines: list[Inline]


@dataclass(slots=True)
class Quote:
    blocks: list[Block]


@dataclass(slots=True)
class ListItem:
    inlines: list[Inline]
    children: list[ListBlock] = field(default_factory=list)


@dataclass(slots=True)
class ListBlock:
    ordered: bool
    start: int  # the first item's number (ordered lists only)
    items: list[ListItem]


@dataclass(slots=True)
class Image:
    """A picture shown inline: only a copy Productlane keeps (never a Slack URL, which needs a login)."""

    url: str  # http or https only: build with `image()`


Block = Paragraph | Preformatted | Quote | ListBlock | Image


class CopiedFile(NamedTuple):
    """What became of one Slack file on its way to Productlane (delivery decides; readers render)."""

    url: str | None  # where Productlane keeps the copy; None: not copied, it stays a link to Slack
    note: str | None = None  # why it was not copied, for the thread's reader
    name: str | None = None  # the name, when the message did not carry it (learned from files.info)
    permalink: str | None = None  # Slack's link to it, likewise
    content_type: str | None = None  # as uploaded (or as Slack said, when not)


# Bidi controls (U+202A–U+202E, U+2066–U+2069) can make text read differently from what it holds
# ("Trojan Source"), so they never leave Slack. Neither do C0 controls other than tab and newline,
# which HTML cannot carry, nor lone surrogates, which nh3 (Rust) cannot even accept.
_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(raw: str) -> str:
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED.sub("", raw)


def text(raw: str, style: int = 0) -> Text:
    return Text(clean_text(raw), style)


_SAFE_SCHEME = re.compile(r"(https?|mailto):", re.IGNORECASE)
# Browsers skip whitespace and controls inside a URL ("java\tscript:"); a URL that holds any is not
# one Slack sent on purpose, so it does not become a link at all.
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_url(url: str) -> str | None:
    """`url` when it may become an href: http(s) with a host, or mailto; else None."""
    url = url.strip()
    scheme = _SAFE_SCHEME.match(url)
    if scheme is None or _NOT_IN_URL.search(url):
        return None
    rest = url[scheme.end() :]
    if scheme.group(1).lower() == "mailto":
        return url if rest else None
    return url if rest.startswith("//") and len(rest) > 2 else None


def link(url: str, label: str = "", style: int = 0) -> Inline:
    """A link when `url` is safe; otherwise only its words (the label, else the URL as text)."""
    label = clean_text(label)
    href = safe_url(url)
    if href is None:
        return Text(label if label.strip() else clean_text(url), style)
    return Link(href, label if label.strip() else href, style)


def image(url: str) -> Image | None:
    """An inline picture when `url` is whole http(s); None otherwise (never mailto, never relative)."""
    href = safe_url(url)
    if href is None or not href.lower().startswith(("http://", "https://")):
        return None
    return Image(href)


def as_str(value: Any) -> str:
    """A Slack field that should be a string; anything else reads as empty."""
    return value if isinstance(value, str) else ""


def as_int(value: Any, default: int, low: int, high: int) -> int:
    """A Slack field that should be a number, clamped to what can be rendered."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = int(value)
    except (ValueError, OverflowError):
        return default
    return min(max(number, low), high)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def date_text(timestamp: Any) -> str:
    """A Slack date's timestamp as UTC text, for when Slack sent no fallback to show."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float | str):
        return ""
    try:
        moment = datetime.fromtimestamp(float(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def is_blank(inlines: list[Inline]) -> bool:
    """No words at all: nothing but whitespace (a link always has words)."""
    return not any(node.text.strip() for node in inlines)

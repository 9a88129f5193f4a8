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


# A label that reads as an address: a scheme, "www.", or a dotted name ending in letters, as in
# "paypal.com/login". Such a label promises where the link goes, so it must not lie about it.
_LOOKS_LIKE_ADDRESS = re.compile(
    r"^\s*(?:[a-z][a-z0-9+.-]*://|www\.|[^\s/@:]+\.[a-z]{2,}(?:[:/?#]|\s*$))", re.IGNORECASE
)
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//(?:[^/?#@]*@)?([^/?#:]*)", re.IGNORECASE)


def host_of(url: str) -> str:
    """The host `url` leads to, lower-cased and without a leading "www." ("" when it has none)."""
    # Browsers read a backslash in a URL as a slash: "https://evil.example\\@paypal.com" leads to
    # evil.example, so the host is read the way they read it.
    found = _HOST.match(url.strip().replace("\\", "/"))
    host = (found.group(1) if found else "").lower().rstrip(".")
    return host.removeprefix("www.")


def _label_host(label: str) -> str:
    label = label.strip()
    return host_of(label if "://" in label else f"//{label}")


def honest_label(href: str, label: str) -> str:
    """`label`, followed by the real host in brackets when the label reads as an address of another
    host: "paypal.com" over a link to evil.example shows as "paypal.com (evil.example)"."""
    if not href.lower().startswith(("http://", "https://")) or not _LOOKS_LIKE_ADDRESS.match(label):
        return label
    real = host_of(href)
    shown = _label_host(label)
    if not real or shown == real:
        return label
    return f"{label} ({real})"


def link(url: str, label: str = "", style: int = 0, *, file_name: bool = False) -> Inline:
    """A link when `url` is safe; otherwise only its words (the label, else the URL as text). A file's
    name labels a link to the file itself (`file_name`): "report.pdf" names no host."""
    label = clean_text(label)
    href = safe_url(url)
    if href is None:
        return Text(label if label.strip() else clean_text(url), style)
    if not label.strip():
        return Link(href, href, style)
    return Link(href, label if file_name else honest_label(href, label), style)


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

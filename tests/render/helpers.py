"""Builders for Slack payloads, and an independent check that HTML stays inside our allowlist."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "s",
    "u",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "img",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "rel"}, "ol": {"start"}, "img": {"src"}}
ALLOWED_SCHEMES = ("http://", "https://", "mailto:")
BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in ALLOWED_ATTRIBUTES.get(tag, set()):
                self.problems.append(f"attribute {name} on <{tag}>")
            elif name == "href":
                self.hrefs.append(value or "")
                if not (value or "").lower().startswith(ALLOWED_SCHEMES):
                    self.problems.append(f"href {value!r}")
            elif name == "src" and not (value or "").lower().startswith(("http://", "https://")):
                self.problems.append(f"src {value!r}")
            elif name == "rel" and value != "noopener noreferrer":
                self.problems.append(f"rel {value!r}")
            elif name == "start" and not (value or "").isdigit():
                self.problems.append(f"start {value!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"end tag </{tag}>")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("unknown declaration")


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def assert_safe(html: str) -> None:
    """Only allowlisted tags, attributes and URL schemes, and no bidi controls."""
    collector = parse(html)
    assert collector.problems == [], (collector.problems, html[:500])
    assert not any(control in html for control in BIDI_CONTROLS)


@contextmanager
def no_fallbacks() -> Iterator[list[logging.LogRecord]]:
    """Fails when a converter hit its last-resort fallback: 'never raises' must hold on its own."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("bot.render.fallback")
    handler = Keep(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
    assert records == [], [record.getMessage() for record in records]


# Slack payload builders: the shapes Slack sends, spelled briefly.


def txt(text: str, **style: bool) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "text", "text": text}
    if style:
        element["style"] = style
    return element


def section(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text_section", "elements": list(elements)}


def rich(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text", "elements": list(elements)}


def rich_list(
    style: str, indent: int, *items: str | dict[str, Any], offset: int | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "rich_text_list",
        "style": style,
        "indent": indent,
        "elements": [section(txt(item)) if isinstance(item, str) else item for item in items],
    }
    if offset is not None:
        element["offset"] = offset
    return element


def one_section(*elements: dict[str, Any]) -> dict[str, Any]:
    """A rich_text block holding a single section."""
    return rich(section(*elements))


def fixture(name: str) -> dict[str, Any]:
    """A recorded Slack payload from tests/fixtures/slack."""
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return payload

"""A team reply's HTML is whatever reached the webhook: built to make a parser work hard (unclosed
tags and comments by the hundred thousand, nesting that deep, endless attributes), it still converts,
to bounded text from its beginning only, without the fallback, and the work done grows linearly with
the input (counted, not timed: the timing goal is bench/bench_convert.py's)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render import html_to_mrkdwn as converter
from bot.render.html_to_mrkdwn import HTML_BUDGET, MAX_NESTING, convert_html, html_to_mrkdwn
from bot.updates.render import REPLY_MAX, team_reply_text

MIB = 1024 * 1024


def repeat(piece: str, size: int = MIB) -> str:
    return piece * (size // len(piece))


@pytest.fixture(autouse=True)
def no_fallback(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every conversion here is the converter's own: none falls back to stripped tags."""
    caplog.set_level(logging.WARNING, logger="bot.render.fallback")
    yield
    assert not [r for r in caplog.records if "could not convert" in r.getMessage()]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (repeat("<a"), ""),  # a tag the input ends inside is dropped, as browsers do
        (repeat("<!--"), ""),
        (repeat("<![CDATA["), ""),
        (repeat("<!x"), ""),
        (repeat("<?"), ""),
        (repeat("</"), ""),
        (repeat("</b>"), ""),
        (repeat("<b>") + repeat("</i>"), ""),
        ("<p>kept</p>" + repeat("<a"), "kept"),
        ("<p>kept</p><!--" + repeat("x"), "kept"),
        ("<p>kept</p><script>" + repeat("<p>x"), "kept"),
        ('<p>kept</p><a href="' + repeat("x"), "kept"),
        ("<p>a < b, c <3 d</p>", "a &lt; b, c &lt;3 d"),
        ("<p>x</p>" + repeat("<!-- -->", HTML_BUDGET - 20) + "<p>y</p>", "x\ny"),
    ],
)
def test_hostile_html_converts_to_what_a_browser_would_show(html: str, expected: str) -> None:
    assert html_to_mrkdwn(html) == expected


def test_nesting_a_million_characters_deep_keeps_every_word_read() -> None:
    out = html_to_mrkdwn(repeat("<b>x"))
    # The cut falls before the last "<b>" read: every x before it is kept, inside one bold mark.
    assert out == "*" + "x" * (HTML_BUDGET // 4 - 1) + "*"
    lists = html_to_mrkdwn(repeat("<ul><li>x"))
    assert lists.count("x") == HTML_BUDGET // len("<ul><li>x")
    assert max(len(line) - len(line.lstrip()) for line in lists.split("\n")) <= len("    ") * MAX_NESTING


@pytest.mark.parametrize(
    "opener", ["<b>", "<ul><li>", "<blockquote>", "<table><tr><td>", "<div><p><a href=x>"]
)
def test_deep_nesting_converts_even_from_deep_in_a_call_stack(opener: str) -> None:
    """The writer's recursion stays far from the limit: a caller 700 frames deep still converts."""

    def deep(frames: int) -> str:
        return deep(frames - 1) if frames else html_to_mrkdwn(repeat(opener + "w", 200_000))

    assert sys.getrecursionlimit() >= 1000
    assert "w" in deep(700)


def test_a_tag_with_a_hundred_thousand_attributes_keeps_the_first_and_its_text() -> None:
    attributes = " ".join(f'data-{n}="{n}"' for n in range(100_000))
    assert html_to_mrkdwn(f'<a href="https://x.test" {attributes}>docs</a>', max_html_chars=2 * MIB) == (
        "<https://x.test|docs>"
    )
    assert html_to_mrkdwn(f"<p {attributes}>hi</p>") == ""  # cut inside the tag: dropped


def test_only_the_beginning_is_read_and_that_is_said() -> None:
    long = "<p>" + "word " * 100_000 + "</p><p>never read</p>"
    converted = convert_html(long)
    assert converted.cut
    assert "never read" not in converted.text
    assert len(converted.text) <= HTML_BUDGET
    assert not convert_html("<p>short</p>").cut
    # What the cut opened is closed: the marks a cut reply shows are whole.
    assert (
        html_to_mrkdwn("<p><strong>" + "bold " * 10, max_html_chars=41) == "*bold bold bold bold bold bold*"
    )


def test_a_cut_reply_points_to_productlane_even_when_its_words_are_few() -> None:
    markup = "<p>" + repeat('<span class="x"></span>', HTML_BUDGET * 2) + "hello</p><p>" + "more " * 10
    assert team_reply_text("Anna", markup) == "*Anna* (via Productlane): … _(the rest is in Productlane)_"
    text = team_reply_text("Anna", "<p>" + "word " * 200_000 + "</p>")
    assert len(text) < REPLY_MAX + 100
    assert text.endswith("word … _(the rest is in Productlane)_")


# --- the work done grows linearly ----------------------------------------------------------------


class Counting:
    """Counts the characters the tokenizer's searches and matches look at (a failed match is
    counted as reading to the end of the input, the most it can)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.scanned = 0
        original = converter._tokenize

        def tokenize(html: str, builder: converter._TreeBuilder) -> None:
            original(_Counted(html, self), builder)

        monkeypatch.setattr(converter, "_tokenize", tokenize)
        monkeypatch.setattr(converter, "_START_TAG", _CountedPattern(converter._START_TAG, self))
        monkeypatch.setattr(converter, "_END_TAG_NAME", _CountedPattern(converter._END_TAG_NAME, self))
        raw = {name: _CountedPattern(pattern, self) for name, pattern in converter._RAW_TEXT.items()}
        monkeypatch.setattr(converter, "_RAW_TEXT", raw)


class _Counted(str):
    """A string whose find() and startswith() count the characters each looks at."""

    counter: Counting

    def __new__(cls, value: str, counter: Counting) -> _Counted:
        made = super().__new__(cls, value)
        made.counter = counter
        return made

    def find(self, sub: str, start: Any = None, end: Any = None) -> int:
        found = super().find(sub, start, end)
        begin = start or 0
        self.counter.scanned += (found + len(sub) if found >= 0 else len(self)) - begin
        return found

    def startswith(self, prefix: Any, start: Any = None, end: Any = None) -> bool:
        self.counter.scanned += max(len(p) for p in prefix) if isinstance(prefix, tuple) else len(prefix)
        return super().startswith(prefix, start, end)


class _CountedPattern:
    def __init__(self, pattern: re.Pattern[str], counter: Counting) -> None:
        self._pattern = pattern
        self._counter = counter

    def _count(self, found: re.Match[str] | None, text: str, pos: int) -> re.Match[str] | None:
        self._counter.scanned += (found.end() if found is not None else len(text)) - pos
        return found

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self._count(self._pattern.match(text, pos), text, pos)

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self._count(self._pattern.search(text, pos), text, pos)


HOSTILE: dict[str, Callable[[int], str]] = {
    "<a": lambda size: repeat("<a", size),
    "<a b": lambda size: repeat("<a b", size),
    '<a b="': lambda size: repeat('<a b="', size),
    "<script>": lambda size: repeat("<script>", size),
    "<!x": lambda size: repeat("<!x", size),
    "<!--": lambda size: repeat("<!--", size),
    "</": lambda size: repeat("</", size),
    "<b>": lambda size: repeat("<b>x", size),
    "</b>": lambda size: repeat("<i>", size // 2) + repeat("</b>", size // 2),
    "a <": lambda size: repeat("a < ", size),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_characters_searched_grow_linearly_with_the_input(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    scanned = []
    for size in (2_000, 4_000, 8_000):
        counting.scanned = 0
        html_to_mrkdwn(HOSTILE[name](size), max_html_chars=size)
        scanned.append(counting.scanned)
    assert scanned[0] > 0
    assert all(count <= 4 * size for count, size in zip(scanned, (2_000, 4_000, 8_000), strict=True)), scanned


# --- whatever the input ----------------------------------------------------------------------------

_TOKEN = re.compile(r"<(https?://|mailto:)[^<>]*>")
TAGS = ["<p>", "</p>", "<ul>", "<li>", "<br/>", '<a href="https://x.test">', "</a>", "<script>", "</script>"]
SOUP = ["<a", "<b>", "</b>", "<!--", "-->", "<![CDATA[", "]]>", "<!x", "<?", "</", ">", '"', "'", "="]
PIECES = st.sampled_from([*SOUP, *TAGS, "&#", "&amp;", "word", " ", "\n", "<", "&"])


@given(st.lists(PIECES, max_size=80), st.integers(min_value=0, max_value=400))
def test_any_soup_of_tags_converts_to_safe_bounded_text(pieces: list[str], budget: int) -> None:
    html = "".join(pieces)
    converted = convert_html(html, max_html_chars=budget)
    assert converted.cut == (len(html) > budget)
    assert "<" not in _TOKEN.sub("", converted.text)
    assert len(converted.text) <= 6 * budget + 10

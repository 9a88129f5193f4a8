"""A hostile corpus: nothing in a Slack message may become live markup, and nothing may raise."""

from __future__ import annotations

from typing import Any

import pytest

from bench.bench_convert import NAMES as BENCH_NAMES
from bench.bench_convert import build_message
from bot.render.html_to_mrkdwn import html_to_mrkdwn
from bot.render.message_html import message_to_html, mrkdwn_to_html, rich_text_to_html
from bot.render.names import NO_NAMES, StaticNames
from bot.render.plain_text import message_to_plain_text, mrkdwn_to_plain_text

from .helpers import (
    BIDI_CONTROLS,
    assert_safe,
    no_fallbacks,
    one_section,
    parse,
    rich,
    section,
    txt,
)

HOSTILE_MRKDWN = [
    "<script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;",
    '<img src=x onerror="alert(1)">',
    "&lt;img src=x onerror=alert(1)&gt;",
    "<javascript:alert(1)|x>",
    "<javascript:alert(1)>",
    "<JaVaScRiPt:alert(1)|x>",
    "< javascript:alert(1)|x>",
    "<java\tscript:alert(1)|x>",
    "<data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==|x>",
    "<vbscript:msgbox(1)|x>",
    '<https://x.io/"onmouseover="alert(1)|label>',
    '<https://x.io|label" onclick="alert(1)>',
    "<https://x.io|&lt;b&gt;bold&lt;/b&gt;>",
    "<!date^1^{date}^javascript:alert(1)|when>",
    "<@U1|<script>>",
    "<@U1|&lt;script&gt;>",
    "*<javascript:alert(1)|bold>*",
    "`<javascript:alert(1)|code>`",
    "```<javascript:alert(1)|pre>```",
    "&gt; <javascript:alert(1)|quoted>",
    "abc\u202edcba \u2066isolate\u2069 \u202aembed\u202c",
    "<https://x.io/\u202eevil|x>",
    "\x00\x01\x08\x0b\x0c\x1f\x7f text \r\n crlf",
    "]]><!-- comment --><![CDATA[x]]>",
    "&#106;avascript:alert(1)",
    "&amp;#x3C;script&amp;#x3E;",
    "",
    ":tada:",
    ":tada::tada::tada:",
]


@pytest.mark.parametrize("text", HOSTILE_MRKDWN)
def test_hostile_mrkdwn_stays_inert(text):
    with no_fallbacks():
        html = mrkdwn_to_html(text, NO_NAMES)
        plain = mrkdwn_to_plain_text(text, NO_NAMES)
    assert_safe(html)
    assert "<script" not in html
    assert "<img" not in html
    assert not any(control in plain for control in BIDI_CONTROLS)


def _link(url: str, label: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "link", "url": url}
    if label is not None:
        element["text"] = label
    return element


HOSTILE_RICH_TEXT = [
    txt("<script>alert(1)</script>"),
    txt("<img src=x onerror=alert(1)>", bold=True),
    txt("&lt;script&gt;"),
    _link("javascript:alert(1)", "click"),
    _link("javascript:alert(1)"),
    _link("JaVaScRiPt:alert(1)", "click"),
    _link(" javascript:alert(1)", "click"),
    _link("data:text/html,<script>alert(1)</script>", "data"),
    _link('https://x.io/"><script>alert(1)</script>', 'a "quoted" <label>'),
    _link("https://x.io", '"><img src=x onerror=alert(1)>'),
    {"type": "user", "user_id": "<script>alert(1)</script>"},
    {"type": "channel", "channel_id": '"><b>x</b>'},
    {"type": "emoji", "name": "<script>", "unicode": "3c-73-63"},
    {"type": "emoji", "name": "x", "unicode": "202e"},
    {"type": "date", "timestamp": "x", "fallback": "<b>date</b>", "url": "javascript:alert(1)"},
    {"type": "color", "value": "<style>*{}</style>"},
    {"type": "mystery", "text": "<iframe src=//evil></iframe>"},
    txt("\u202eevil\u202c and \u2067x\u2069"),
]


@pytest.mark.parametrize("element", HOSTILE_RICH_TEXT)
def test_hostile_rich_text_stays_inert(element):
    with no_fallbacks():
        html = rich_text_to_html(one_section(element), NO_NAMES)
    assert_safe(html)
    for tag in ("<script", "<img", "<iframe"):
        assert tag not in html


def test_an_unsafe_link_keeps_only_its_label():
    assert rich_text_to_html(one_section(_link("javascript:alert(1)", "click")), NO_NAMES) == ("<p>click</p>")
    assert mrkdwn_to_html("<javascript:alert(1)|x>", NO_NAMES) == "<p>x</p>"
    assert mrkdwn_to_html("<JaVaScRiPt:alert(1)|x>", NO_NAMES) == "<p>x</p>"


@pytest.mark.parametrize(
    ("href", "label", "shown"),
    [
        ("https://evil.example/x", "https://paypal.com/login", "https://paypal.com/login (evil.example)"),
        ("https://evil.example/x", "paypal.com", "paypal.com (evil.example)"),
        ("https://evil.example/x", "www.paypal.com", "www.paypal.com (evil.example)"),
        ("https://www.paypal.com/x", "paypal.com/x", "paypal.com/x"),
        ("https://paypal.com/x", "HTTPS://WWW.PAYPAL.COM/x", "HTTPS://WWW.PAYPAL.COM/x"),
        ("https://evil.example/x", "click here", "click here"),
        ("https://evil.example\\@paypal.com/x", "paypal.com", "paypal.com (evil.example)"),
        ("https://evil.example/x", "version 1.2 notes", "version 1.2 notes"),
    ],
)
def test_a_label_that_reads_as_another_address_shows_the_real_host(href: str, label: str, shown: str) -> None:
    # Slack -> Productlane: the thread's HTML.
    html = mrkdwn_to_html(f"<{href}|{label}>", NO_NAMES)
    assert parse(html).hrefs == [href]
    assert f">{shown}</a>" in html
    # Productlane -> Slack: a team reply's mrkdwn.
    assert html_to_mrkdwn(f'<a href="{href}">{label}</a>') == f"<{href}|{shown}>"


def test_an_unsafe_link_without_a_label_shows_its_url_as_inert_text():
    html = rich_text_to_html(one_section(_link("javascript:alert(1)")), NO_NAMES)
    assert html == "<p>javascript:alert(1)</p>"
    assert parse(html).hrefs == []


def test_quotes_in_labels_and_urls_cannot_break_out_of_the_attribute():
    element = _link('https://x.io/"onmouseover="alert(1)', 'say "hi"')
    html = rich_text_to_html(one_section(element), NO_NAMES)
    assert html == (
        '<p><a href="https://x.io/&quot;onmouseover=&quot;alert(1)" rel="noopener noreferrer">'
        'say "hi"</a></p>'
    )
    assert parse(html).hrefs == ['https://x.io/"onmouseover="alert(1)']


def test_entity_tricks_are_shown_not_decoded_twice():
    assert mrkdwn_to_html("&amp;lt;script&amp;gt;", NO_NAMES) == "<p>&amp;lt;script&amp;gt;</p>"
    assert mrkdwn_to_html("&lt;script&gt;", NO_NAMES) == "<p>&lt;script&gt;</p>"


def test_bidi_controls_are_stripped_from_text_names_and_urls():
    names = StaticNames(users={"U1": "Da\u202ena"})
    block = one_section(
        txt("a\u202eb\u2066c"),
        {"type": "user", "user_id": "U1"},
        _link("https://x.io/\u202eevil", "label"),
    )
    # The link URL held a bidi control, so it is not a link at all: only its label shows.
    assert rich_text_to_html(block, names) == "<p>abc@Danalabel</p>"


def test_a_names_resolver_cannot_inject_markup():
    names = StaticNames(users={"U1": "<img src=x onerror=alert(1)>"})
    html = mrkdwn_to_html("<@U1>", names)
    assert html == "<p>@&lt;img src=x onerror=alert(1)&gt;</p>"


def test_a_40k_character_message_converts_safely():
    with no_fallbacks():
        html = message_to_html(build_message(), BENCH_NAMES)
    assert_safe(html)
    assert len(html) > 40_000


@pytest.mark.parametrize(
    "text",
    [
        "a" * 40_000,
        "*a " * 13_000 + "b_ " * 13_000,  # many openers and unrelated closers
        "_" * 40_000,
        ":a:" * 13_000,
        "".join(f":custom{n}:" for n in range(5_000)),  # every name new: no cache helps
        "<" * 20_000 + ">" * 20_000,
        "&amp;" * 8_000,
        "```" * 13_000,
        "&gt;" * 10_000,
        ("*bold* _it_ ~s~ `c` <https://x.io|l> :tada: &amp;\n" * 800),
    ],
)
def test_long_and_pathological_mrkdwn_converts_safely(text):
    with no_fallbacks():
        html = mrkdwn_to_html(text, NO_NAMES)
    assert_safe(html)


MALFORMED_MESSAGES: list[Any] = [
    None,
    "just a string",
    42,
    [],
    {},
    {"text": None, "blocks": None, "attachments": None, "files": None},
    {"text": 42, "blocks": "REPLACE", "attachments": "x", "files": {"a": 1}},
    {"blocks": [None, 1, "x", [], {"type": None}, {"type": "rich_text", "elements": "x"}]},
    {"blocks": [{"type": "rich_text", "elements": [None, 3, {"type": "rich_text_section"}]}]},
    {"blocks": [rich(section(None, 1, "x", {"type": 5}, {"type": "text", "text": 5}))]},  # type: ignore[arg-type]
    {"blocks": [rich(section({"type": "text", "text": "x", "style": "bold"}))]},
    {"blocks": [rich(section({"type": "link", "url": None, "text": ["x"]}))]},
    {"blocks": [rich(section({"type": "emoji", "unicode": 128591, "name": None}))]},
    {"blocks": [rich(section({"type": "date", "timestamp": 10**30}))]},
    {"blocks": [rich(section({"type": "date", "timestamp": float("nan")}))]},
    {"blocks": [rich({"type": "rich_text_list", "elements": [None, {"elements": "x"}]})]},
    {
        "blocks": [
            rich(
                {
                    "type": "rich_text_list",
                    "indent": 10**40,
                    "offset": -(10**40),
                    "elements": [section(txt("x"))],
                }
            )
        ]
    },
    {"blocks": [rich({"type": "rich_text_list", "indent": "9" * 5000, "elements": [section(txt("x"))]})]},
    {"blocks": [{"type": "section", "text": 5, "fields": [None, {"type": "mrkdwn"}]}]},
    {"blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": None}]}]},
    {"blocks": [{"type": "header", "text": "not an object"}]},
    {"attachments": [None, {"fields": "x"}, {"fields": [None, {"title": 1, "value": None}]}]},
    {"attachments": [{"title": "t", "title_link": 5, "image_url": ["x"], "blocks": "x"}]},
    {"files": [None, {"name": None}, {"name": "x", "permalink": "javascript:alert(1)"}]},
    {"text": "\ud800\udfff lone surrogates"},
]


@pytest.mark.parametrize("message", MALFORMED_MESSAGES)
def test_malformed_messages_never_raise(message):
    with no_fallbacks():
        html = message_to_html(message, NO_NAMES)
        plain = message_to_plain_text(message, NO_NAMES)
    assert isinstance(html, str)
    assert isinstance(plain, str)
    assert_safe(html)


def test_an_unsafe_file_permalink_lists_the_name_without_a_link():
    message = {"files": [{"name": "x.png", "permalink": "javascript:alert(1)"}]}
    assert message_to_html(message, NO_NAMES) == "<ul><li>File: x.png</li></ul>"


@pytest.mark.parametrize("block", [None, "x", 5, [], {"elements": None}, {"type": "rich_text"}])
def test_malformed_rich_text_never_raises(block):
    with no_fallbacks():
        assert rich_text_to_html(block, NO_NAMES) == ""


@pytest.mark.parametrize("text", [None, 5, b"bytes", ["list"]])
def test_non_string_mrkdwn_never_raises(text):
    with no_fallbacks():
        assert mrkdwn_to_html(text, NO_NAMES) == ""
        assert mrkdwn_to_plain_text(text, NO_NAMES) == ""

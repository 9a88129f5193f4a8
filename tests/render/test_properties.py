"""Properties over generated Slack input: never raises, always inside the allowlist, stable.

"Never raises" is checked strictly: the converters' last-resort fallback must not be needed either.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.message_html import (
    message_to_html,
    mrkdwn_to_html,
    rich_text_to_html,
    sanitize_html,
)
from bot.render.names import StaticNames
from bot.render.plain_text import (
    message_to_plain_text,
    mrkdwn_to_plain_text,
    rich_text_to_plain_text,
    title_from_text,
)

from .helpers import BIDI_CONTROLS, assert_safe, no_fallbacks

NAMES = StaticNames(
    users={"U1": "Dana", "U2": '<b onclick="x">Eve</b>'},
    channels={"C1": "general", "C2": "\u202eevil"},
    usergroups={"S1": "support"},
)

NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "&amp;",
    "&lt;",
    "&gt;",
    "&amp;lt;",
    '"',
    "'",
    "\n",
    "\r\n",
    "\u202e",
    "\u2066",
    "\x00",
    "\ud800",
    "*",
    "_",
    "~",
    "`",
    "```",
    ":tada:",
    "<pre>",
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(st.none(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.none(), max_size=2),
)
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(NASTY))
IDS = st.sampled_from(["U1", "U2", "U9", "C1", "C2", "S1", "", "<script>", '"x"', "\u202e"])
URLS = st.one_of(
    st.sampled_from(
        [
            "https://x.io",
            "http://x.io/a?b=1&c=2",
            "HTTPS://X.IO",
            "mailto:a@b.c",
            "mailto:",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//x.io",
            "/relative",
            "",
            'https://x.io/"><b>x</b>',
            "https://\u202e.io",
            "https://",
            "http://[::1",
        ]
    ),
    st.text(max_size=20),
)
STYLE = st.one_of(
    st.dictionaries(
        st.sampled_from(["bold", "italic", "strike", "code", "underline", "highlight"]),
        st.one_of(st.booleans(), JUNK),
    ),
    JUNK,
)
HEX = st.lists(st.integers(0, 0x11_0000).map(lambda n: f"{n:x}"), min_size=1, max_size=3).map("-".join)


def _element(kind: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(kind)}, optional={**fields, "style": STYLE})


INLINE = st.one_of(
    _element("text", text=TEXT),
    _element("link", url=URLS, text=TEXT),
    _element("user", user_id=st.one_of(IDS, JUNK)),
    _element("channel", channel_id=st.one_of(IDS, JUNK)),
    _element("usergroup", usergroup_id=st.one_of(IDS, JUNK)),
    _element("broadcast", range=st.one_of(st.sampled_from(["here", "channel", "everyone"]), TEXT)),
    _element(
        "emoji",
        name=st.one_of(st.sampled_from(["pray", "wave", "custom"]), TEXT),
        unicode=st.one_of(HEX, TEXT),
        skin_tone=st.one_of(st.integers(-1, 8), JUNK),
    ),
    _element("date", timestamp=st.one_of(st.integers(), JUNK, TEXT), fallback=TEXT, url=URLS),
    _element("color", value=TEXT),
    st.fixed_dictionaries({"type": TEXT}, optional={"text": st.one_of(TEXT, JUNK)}),
    JUNK,
)
SECTION = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["rich_text_section", "rich_text_preformatted", "rich_text_quote", "rich_text_new"]
        ),
        "elements": st.one_of(st.lists(INLINE, max_size=6), JUNK),
    }
)
LIST = st.fixed_dictionaries(
    {
        "type": st.just("rich_text_list"),
        "style": st.sampled_from(["bullet", "ordered", "other"]),
        "elements": st.lists(st.one_of(SECTION, JUNK), max_size=3),
    },
    optional={
        "indent": st.one_of(st.integers(-2, 10), JUNK),
        "offset": st.one_of(st.integers(-2, 20), JUNK),
    },
)
RICH_TEXT = st.fixed_dictionaries(
    {
        "type": st.just("rich_text"),
        "elements": st.lists(st.one_of(SECTION, LIST, LIST, JUNK), max_size=12),
    }
)
FRAGMENTS = [
    *NASTY,
    "<@U1>",
    "<@U2|x>",
    "<#C2|chan>",
    "<!here>",
    "<!subteam^S1|@team>",
    "<!date^1392734382^{date}|fallback>",
    "<https://x.io|label>",
    "<javascript:alert(1)|x>",
    "<JaVaScRiPt:alert(1)>",
    "<mailto:a@b.c>",
    "&gt; ",
    "&gt;&gt;&gt; ",
    "> ",
    ":wave::skin-tone-3:",
    ":custom:",
    " ",
    "a",
    "é",
    "|",
    "<",
    ">",
]
MRKDWN = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map("".join)
TEXT_OBJECT = st.fixed_dictionaries(
    {"type": st.sampled_from(["mrkdwn", "plain_text", "other"]), "text": st.one_of(MRKDWN, JUNK)},
    optional={"emoji": st.one_of(st.booleans(), JUNK)},
)
BLOCK_KIT = st.one_of(
    RICH_TEXT,
    st.fixed_dictionaries(
        {"type": st.just("section")},
        optional={"text": st.one_of(TEXT_OBJECT, JUNK), "fields": st.lists(TEXT_OBJECT, max_size=3)},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["header", "context", "image", "divider", "mystery"])},
        optional={
            "text": st.one_of(TEXT_OBJECT, JUNK),
            "elements": st.lists(st.one_of(TEXT_OBJECT, JUNK), max_size=3),
            "image_url": URLS,
            "alt_text": TEXT,
        },
    ),
    JUNK,
)
ATTACHMENT = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(MRKDWN, JUNK)
        for key in ("pretext", "author_name", "title", "text", "footer", "fallback")
    }
    | {
        "title_link": URLS,
        "author_link": URLS,
        "image_url": URLS,
        "fields": st.lists(st.fixed_dictionaries({}, optional={"title": TEXT, "value": MRKDWN}), max_size=2),
    },
)
FILE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(TEXT, JUNK),
        "title": TEXT,
        "mimetype": st.sampled_from(["image/png", "text/plain", ""]),
        "permalink": URLS,
        "url_private": URLS,
    },
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(MRKDWN, JUNK),
        "blocks": st.one_of(st.lists(BLOCK_KIT, max_size=3), JUNK),
        "attachments": st.one_of(st.lists(st.one_of(ATTACHMENT, JUNK), max_size=2), JUNK),
        "files": st.one_of(st.lists(st.one_of(FILE, JUNK), max_size=3), JUNK),
    },
)


def check_html(html: str) -> None:
    assert_safe(html)
    assert sanitize_html(html) == html


def check_plain(plain: str) -> None:
    assert isinstance(plain, str)
    assert not any(control in plain for control in BIDI_CONTROLS)


@settings(deadline=None)
@given(RICH_TEXT)
def test_any_rich_text_block(block):
    with no_fallbacks():
        html = rich_text_to_html(block, NAMES)
        plain = rich_text_to_plain_text(block, NAMES)
    check_html(html)
    check_plain(plain)


@settings(deadline=None)
@given(MRKDWN)
def test_any_mrkdwn(text):
    with no_fallbacks():
        html = mrkdwn_to_html(text, NAMES)
        plain = mrkdwn_to_plain_text(text, NAMES)
    check_html(html)
    check_plain(plain)


@settings(deadline=None)
@given(MESSAGE)
def test_any_message(message):
    with no_fallbacks():
        html = message_to_html(message, NAMES)
        plain = message_to_plain_text(message, NAMES)
        title = title_from_text(plain, 80)
    check_html(html)
    check_plain(plain)
    assert len(title) <= 80


@settings(deadline=None)
@given(MESSAGE, RICH_TEXT)
def test_joined_outputs_stay_stable_as_compose_sanitizes_them_again(message, block):
    # compose joins a message's HTML, a note's HTML and its own markup, then sanitizes once more.
    with no_fallbacks():
        joined = message_to_html(message, NAMES) + rich_text_to_html(block, NAMES)
    check_html(joined)


@settings(deadline=None)
@given(st.text(max_size=200) | MRKDWN)
def test_sanitize_html_keeps_any_input_inside_the_allowlist(html):
    with no_fallbacks():
        once = sanitize_html(html)
    assert_safe(once)

"""mrkdwn `text` (bots, integrations, old messages; section and attachment text) → HTML."""

from __future__ import annotations

import pytest

from bot.render.message_html import mrkdwn_to_html, rich_text_to_html
from bot.render.names import NO_NAMES, StaticNames

from .helpers import fixture, one_section, txt

NAMES = StaticNames(
    users={"U0DANA": "Dana"},
    channels={"C0GENERAL": "general"},
    usergroups={"S0SUPPORT": "support"},
)


def html_of(text: str) -> str:
    return mrkdwn_to_html(text, NAMES)


def test_plain_text_is_a_paragraph_with_line_breaks():
    assert html_of("one\ntwo") == "<p>one<br>two</p>"


def test_entities_are_decoded_exactly_once():
    assert html_of("Chrome &amp; Safari") == "<p>Chrome &amp; Safari</p>"
    assert html_of("1 &lt; 2 &gt; 0") == "<p>1 &lt; 2 &gt; 0</p>"
    # A typed "&lt;" arrives as "&amp;lt;": it must show as the four characters "&lt;".
    assert html_of("&amp;lt;b&amp;gt;") == "<p>&amp;lt;b&amp;gt;</p>"
    assert html_of("&quot;as typed&quot;") == "<p>&amp;quot;as typed&amp;quot;</p>"


def test_mrkdwn_is_encoded_and_rich_text_is_raw_yet_both_give_the_same_html():
    from_mrkdwn = mrkdwn_to_html("Chrome &amp; Safari", NO_NAMES)
    from_rich_text = rich_text_to_html(one_section(txt("Chrome & Safari")), NO_NAMES)
    assert from_mrkdwn == from_rich_text == "<p>Chrome &amp; Safari</p>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0DANA>", "@Dana"),
        ("<@U0DANA|old-name>", "@Dana"),  # the resolver knows better than a stale label
        ("<@U0123|dana>", "@dana"),
        ("<@U0123>", "@U0123"),
        ("<#C0GENERAL>", "#general"),
        ("<#C0123|random>", "#random"),
        ("<#C0123>", "#C0123"),
        ("<!here>", "@here"),
        ("<!here|here>", "@here"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S0SUPPORT>", "@support"),
        ("<!subteam^S0123|@team>", "@team"),
        ("<!subteam^S0123>", "@S0123"),
        (
            "<!date^1392734382^{date_num} {time_secs}|2014-02-18 6:39:42 AM>",
            "2014-02-18 6:39:42 AM",
        ),
        ("<!date^1392734382^{date_num}>", "2014-02-18 14:39 UTC"),
        ("<!unknown|what it says>", "what it says"),
    ],
)
def test_tokens_become_names(text, expected):
    assert html_of(f"Hi {text}!") == f"<p>Hi {expected}!</p>"


def test_a_date_with_a_link_links_there():
    assert html_of("<!date^0^{date}^https://example.com/e|then>") == (
        '<p><a href="https://example.com/e" rel="noopener noreferrer">then</a></p>'
    )


@pytest.mark.parametrize(
    ("text", "href", "label"),
    [
        ("<https://example.com>", "https://example.com", "https://example.com"),
        ("<https://example.com|the site>", "https://example.com", "the site"),
        ("<http://example.com/?a=1&amp;b=2|q>", "http://example.com/?a=1&amp;b=2", "q"),
        (
            "<mailto:help@example.com|help@example.com>",
            "mailto:help@example.com",
            "help@example.com",
        ),
        ("<https://example.com|Tom &amp; Jerry>", "https://example.com", "Tom &amp; Jerry"),
    ],
)
def test_links_keep_their_url_and_label(text, href, label):
    assert html_of(text) == f'<p><a href="{href}" rel="noopener noreferrer">{label}</a></p>'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*bold*", "<strong>bold</strong>"),
        ("_italic_", "<em>italic</em>"),
        ("~strike~", "<s>strike</s>"),
        ("`code`", "<code>code</code>"),
        ("*bold _and italic_*", "<strong>bold </strong><strong><em>and italic</em></strong>"),
        ("_*both*_", "<strong><em>both</em></strong>"),
        ("*bold `code`*", "<strong>bold </strong><strong><code>code</code></strong>"),
        ("a *b* c _d_ e", "a <strong>b</strong> c <em>d</em> e"),
        ("(*aside*)", "(<strong>aside</strong>)"),
        ("*<https://x.io|bold link>*", '<a href="https://x.io"><strong>bold link</strong></a>'),
    ],
)
def test_inline_formatting(text, expected):
    assert html_of(text) == f"<p>{expected}</p>".replace(
        '<a href="https://x.io">', '<a href="https://x.io" rel="noopener noreferrer">'
    )


@pytest.mark.parametrize(
    "text",
    [
        "snake_case_name",
        "2*3*4",
        "a * b * c",
        "**",
        "*not closed",
        "not *opened",
        "~ spaced ~",
        "file_name_.txt",
    ],
)
def test_markers_inside_words_or_unpaired_stay_as_typed(text):
    assert html_of(text) == f"<p>{text}</p>"


def test_formatting_does_not_cross_a_line_break():
    assert html_of("*one\ntwo*") == "<p>*one<br>two*</p>"


def test_nothing_is_formatted_inside_code():
    assert html_of("`*not bold* _nor_ :pray:`") == "<p><code>*not bold* _nor_ :pray:</code></p>"


def test_code_still_decodes_entities_once():
    assert html_of("`a &amp;&amp; b &lt;T&gt;`") == "<p><code>a &amp;&amp; b &lt;T&gt;</code></p>"


def test_a_code_block_is_pre_without_formatting():
    html = html_of("Try:\n```\nrun *now* &amp; :pray:\n  indented\n```\nthen")
    assert html == "<p>Try:</p><pre>run *now* &amp; :pray:\n  indented</pre><p>then</p>"


def test_a_code_block_inline_in_a_line_still_breaks_out():
    assert html_of("see ```x = 1``` here") == "<p>see</p><pre>x = 1</pre><p>here</p>"


def test_a_mention_inside_code_still_reads_as_a_name():
    assert html_of("`<@U0DANA>`") == "<p><code>@Dana</code></p>"


def test_a_quote_line_is_a_blockquote():
    assert html_of("&gt; quoted *words*\nnot quoted") == (
        "<blockquote><p>quoted <strong>words</strong></p></blockquote><p>not quoted</p>"
    )


def test_consecutive_quote_lines_share_one_blockquote():
    assert html_of("&gt; one\n&gt; two") == "<blockquote><p>one<br>two</p></blockquote>"


def test_a_raw_greater_than_from_a_bot_also_quotes():
    assert html_of("> from a bot") == "<blockquote><p>from a bot</p></blockquote>"


def test_triple_quote_quotes_everything_after_it():
    assert html_of("intro\n&gt;&gt;&gt; all\nof\nthis") == (
        "<p>intro</p><blockquote><p>all<br>of<br>this</p></blockquote>"
    )


def test_a_greater_than_inside_a_line_is_just_text():
    assert html_of("a &gt; b") == "<p>a &gt; b</p>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":pray:", "🙏"),
        (":+1:", "👍"),
        (":thumbsup:", "👍"),
        (":wave::skin-tone-3:", "👋🏼"),
        (":white_check_mark: done", "✅ done"),
        (":partyparrot:", ":partyparrot:"),
        ("at 10:30:45", "at 10:30:45"),
        ("_:tada: party_", "<em>🎉 party</em>"),
    ],
)
def test_shortcodes_become_emoji_and_unknown_ones_stay(text, expected):
    assert html_of(text) == f"<p>{expected}</p>"


def test_the_fixture_text_renders_like_its_blocks(message_shortcut_text):
    assert html_of(message_shortcut_text) == (
        "<p><strong>Export to CSV times out</strong> for workspaces with more than 10k rows. "
        '@U0CSM0001 can you look? See <a href="https://status.example.com/incidents/42" '
        'rel="noopener noreferrer">incident 42</a><br>• happens in Chrome &amp; Safari<br>'
        "• started after <code>v2.3</code><br>Thanks 🙏</p>"
    )


@pytest.fixture
def message_shortcut_text() -> str:
    text: str = fixture("message_shortcut.json")["message"]["text"]
    return text


def test_empty_text_gives_empty_html():
    assert html_of("") == ""
    assert html_of("\n \n") == ""

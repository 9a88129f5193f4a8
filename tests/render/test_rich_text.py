"""rich_text blocks (messages, and a modal's rich_text_input) → HTML."""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.message_html import rich_text_to_html
from bot.render.names import NO_NAMES, StaticNames

from .helpers import fixture, one_section, rich, rich_list, section, txt

NAMES = StaticNames(
    users={"U0DANA": "Dana"},
    channels={"C0GENERAL": "general"},
    usergroups={"S0SUPPORT": "support"},
)


def html_of(*elements: dict[str, Any]) -> str:
    return rich_text_to_html(one_section(*elements), NAMES)


def test_a_section_is_a_paragraph():
    assert html_of(txt("Hello there")) == "<p>Hello there</p>"


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ({"bold": True}, "<strong>x</strong>"),
        ({"italic": True}, "<em>x</em>"),
        ({"strike": True}, "<s>x</s>"),
        ({"code": True}, "<code>x</code>"),
        ({"underline": True}, "<u>x</u>"),
        (
            {"bold": True, "italic": True, "strike": True, "underline": True, "code": True},
            "<strong><em><s><u><code>x</code></u></s></em></strong>",
        ),
        ({"bold": False, "highlight": True}, "x"),
    ],
)
def test_text_styles_alone_and_combined(style, expected):
    assert html_of(txt("x", **style)) == f"<p>{expected}</p>"


def test_neighbouring_text_with_the_same_style_shares_one_tag():
    assert html_of(txt("a", bold=True), txt("b", bold=True), txt("c")) == "<p><strong>ab</strong>c</p>"


def test_newlines_inside_text_become_line_breaks():
    assert html_of(txt("one\ntwo\n\nthree")) == "<p>one<br>two<br><br>three</p>"


def test_a_section_loses_the_final_newline_slack_puts_before_a_list():
    block = rich(section(txt("Steps:\n")), rich_list("bullet", 0, "one"))
    assert rich_text_to_html(block, NO_NAMES) == "<p>Steps:</p><ul><li>one</li></ul>"


def test_a_link_shows_its_label():
    html = html_of({"type": "link", "url": "https://example.com/a?b=1&c=2", "text": "the docs"})
    assert html == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">the docs</a></p>'
    )


def test_a_link_without_a_label_shows_its_url():
    html = html_of({"type": "link", "url": "https://example.com"})
    assert html == '<p><a href="https://example.com" rel="noopener noreferrer">https://example.com</a></p>'


def test_a_styled_link_keeps_its_style_inside_the_anchor():
    html = html_of({"type": "link", "url": "mailto:help@example.com", "style": {"bold": True}})
    assert html == (
        '<p><a href="mailto:help@example.com" rel="noopener noreferrer">'
        "<strong>mailto:help@example.com</strong></a></p>"
    )


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        ({"type": "user", "user_id": "U0DANA"}, "@Dana"),
        ({"type": "user", "user_id": "U0123"}, "@U0123"),
        ({"type": "channel", "channel_id": "C0GENERAL"}, "#general"),
        ({"type": "channel", "channel_id": "C0123"}, "#C0123"),
        ({"type": "usergroup", "usergroup_id": "S0SUPPORT"}, "@support"),
        ({"type": "usergroup", "usergroup_id": "S0123"}, "@S0123"),
        ({"type": "broadcast", "range": "here"}, "@here"),
        ({"type": "broadcast", "range": "channel"}, "@channel"),
        ({"type": "broadcast", "range": "everyone"}, "@everyone"),
    ],
)
def test_mentions_read_as_names_or_ids(element, expected):
    assert html_of(element) == f"<p>{expected}</p>"


def test_a_mention_can_be_styled():
    assert html_of({"type": "user", "user_id": "U0DANA", "style": {"bold": True}}) == (
        "<p><strong>@Dana</strong></p>"
    )


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        ({"type": "emoji", "name": "pray", "unicode": "1f64f"}, "🙏"),
        ({"type": "emoji", "name": "+1", "unicode": "1f44d-1f3fb", "skin_tone": 2}, "👍🏻"),
        ({"type": "emoji", "name": "flag-ch", "unicode": "1f1e8-1f1ed"}, "🇨🇭"),
        ({"type": "emoji", "name": "heart", "unicode": "2764-fe0f"}, "❤️"),
        ({"type": "emoji", "name": "partyparrot"}, ":partyparrot:"),
        ({"type": "emoji", "name": "wave"}, "👋"),  # no unicode sent: the name still finds it
        ({"type": "emoji", "name": "wave", "skin_tone": 3}, "👋🏼"),
        ({"type": "emoji", "name": "custom", "unicode": "not-hex"}, ":custom:"),
        ({"type": "emoji", "name": "custom", "unicode": "d800"}, ":custom:"),
    ],
)
def test_emoji_become_glyphs_and_custom_ones_keep_their_name(element, expected):
    assert html_of(txt("Thanks "), element) == f"<p>Thanks {expected}</p>"


def test_a_date_shows_its_fallback_text():
    date = {"type": "date", "timestamp": 1720000000, "format": "{date_short}", "fallback": "Jul 3"}
    assert html_of(txt("Due "), date) == "<p>Due Jul 3</p>"


def test_a_date_without_fallback_shows_the_time_in_utc():
    assert html_of({"type": "date", "timestamp": 1720000000}) == "<p>2024-07-03 09:46 UTC</p>"


def test_a_date_with_a_url_links_there():
    date = {"type": "date", "timestamp": 0, "fallback": "then", "url": "https://example.com/d"}
    assert html_of(date) == '<p><a href="https://example.com/d" rel="noopener noreferrer">then</a></p>'


def test_a_color_shows_its_value():
    assert html_of(txt("Use "), {"type": "color", "value": "#FF0000"}) == "<p>Use #FF0000</p>"


def test_an_unknown_element_shows_its_text_if_it_has_any():
    assert html_of({"type": "sparkle", "text": "shiny"}, {"type": "canvas", "id": "F1"}) == ("<p>shiny</p>")


def test_an_unknown_block_element_shows_its_inline_elements_or_text():
    block = rich({"type": "rich_text_future", "elements": [txt("inside")]}, {"type": "x", "text": "t"})
    assert rich_text_to_html(block, NO_NAMES) == "<p>inside</p><p>t</p>"


def test_preformatted_is_a_pre_block_without_styles():
    block = rich(
        {
            "type": "rich_text_preformatted",
            "elements": [txt("def f():\n    return 1 < 2", code=True)],
        }
    )
    assert rich_text_to_html(block, NO_NAMES) == "<pre>def f():\n    return 1 &lt; 2</pre>"


def test_a_link_inside_preformatted_stays_a_link():
    block = rich({"type": "rich_text_preformatted", "elements": [{"type": "link", "url": "https://x.io"}]})
    assert rich_text_to_html(block, NO_NAMES) == (
        '<pre><a href="https://x.io" rel="noopener noreferrer">https://x.io</a></pre>'
    )


def test_preformatted_that_starts_with_an_empty_line_keeps_it():
    block = rich({"type": "rich_text_preformatted", "elements": [txt("\nx")]})
    assert rich_text_to_html(block, NO_NAMES) == "<pre>\n\nx</pre>"


def test_a_quote_is_a_blockquote():
    block = rich({"type": "rich_text_quote", "elements": [txt("Said "), txt("this", italic=True)]})
    assert rich_text_to_html(block, NO_NAMES) == "<blockquote><p>Said <em>this</em></p></blockquote>"


def test_the_modal_rich_text_input_value_renders():
    state = fixture("view_submission.json")["view"]["state"]["values"]
    value = state["example_rich_text_block"]["example_rich_text_action"]["rich_text_value"]
    assert rich_text_to_html(value, NO_NAMES) == "<p>Customer wants <strong>SSO</strong></p>"


def test_rich_text_is_raw_text_so_nothing_is_decoded():
    assert html_of(txt("Chrome & Safari")) == "<p>Chrome &amp; Safari</p>"
    assert html_of(txt("&amp; stays as typed")) == "<p>&amp;amp; stays as typed</p>"


# Lists: Slack sends nested lists as flat siblings with an indent.


def lists_html(*elements: dict[str, Any]) -> str:
    return rich_text_to_html(rich(*elements), NO_NAMES)


def test_a_bullet_list():
    assert lists_html(rich_list("bullet", 0, "a", "b")) == "<ul><li>a</li><li>b</li></ul>"


def test_an_ordered_list():
    assert lists_html(rich_list("ordered", 0, "a", "b")) == "<ol><li>a</li><li>b</li></ol>"


def test_list_items_keep_their_inline_formatting():
    item = section(txt("bold", bold=True), txt(" and "), {"type": "user", "user_id": "U9"})
    assert lists_html(rich_list("bullet", 0, item)) == ("<ul><li><strong>bold</strong> and @U9</li></ul>")


def test_flat_lists_with_indents_0_1_2_1_0_nest_and_mix_kinds():
    html = lists_html(
        rich_list("ordered", 0, "one", "two"),
        rich_list("bullet", 1, "two.a"),
        rich_list("ordered", 2, "two.a.i"),
        rich_list("bullet", 1, "two.b"),
        rich_list("ordered", 0, "three", offset=2),
    )
    assert html == (
        "<ol><li>one</li><li>two"
        "<ul><li>two.a<ol><li>two.a.i</li></ol></li><li>two.b</li></ul>"
        "</li><li>three</li></ol>"
    )


def test_an_offset_list_after_a_paragraph_continues_its_numbering():
    html = lists_html(
        rich_list("ordered", 0, "one", "two"),
        section(txt("an aside")),
        rich_list("ordered", 0, "three", offset=2),
    )
    assert html == '<ol><li>one</li><li>two</li></ol><p>an aside</p><ol start="3"><li>three</li></ol>'


def test_a_nested_ordered_list_can_start_at_its_offset():
    html = lists_html(rich_list("bullet", 0, "a"), rich_list("ordered", 1, "x", offset=4))
    assert html == '<ul><li>a<ol start="5"><li>x</li></ol></li></ul>'


def test_an_ordered_list_without_a_matching_offset_starts_again():
    html = lists_html(
        rich_list("ordered", 0, "one"),
        rich_list("bullet", 1, "nested"),
        rich_list("ordered", 0, "one again"),
    )
    assert html == "<ol><li>one<ul><li>nested</li></ul></li></ol><ol><li>one again</li></ol>"


def test_a_different_kind_at_the_same_level_is_a_new_list():
    html = lists_html(rich_list("bullet", 0, "dot"), rich_list("ordered", 0, "num"))
    assert html == "<ul><li>dot</li></ul><ol><li>num</li></ol>"


def test_a_skipped_level_still_nests_under_the_last_item():
    html = lists_html(rich_list("bullet", 0, "top"), rich_list("bullet", 2, "deep"))
    assert html == "<ul><li>top<ul><li>deep</li></ul></li></ul>"


def test_a_list_that_starts_indented_renders_at_the_top():
    assert lists_html(rich_list("bullet", 3, "alone")) == "<ul><li>alone</li></ul>"


@pytest.mark.parametrize("indent", [-1, 99, "2", None, True, 2.7, "deep"])
def test_odd_indents_are_clamped_not_fatal(indent):
    html = lists_html(rich_list("bullet", 0, "a"), {**rich_list("bullet", 0, "b"), "indent": indent})
    assert html.startswith("<ul><li>a")
    assert "b</li>" in html


def test_a_quote_or_code_block_ends_a_list_run():
    html = lists_html(
        rich_list("ordered", 0, "one"),
        {"type": "rich_text_quote", "elements": [txt("q")]},
        rich_list("ordered", 0, "two", offset=1),
    )
    assert html == '<ol><li>one</li></ol><blockquote><p>q</p></blockquote><ol start="2"><li>two</li></ol>'


def test_an_empty_list_renders_nothing():
    assert lists_html({"type": "rich_text_list", "style": "bullet", "elements": []}) == ""

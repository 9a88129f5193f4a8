"""Plain text for the modal: the preview (no markup, mentions as names) and the title prefill."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.names import NO_NAMES, StaticNames
from bot.render.plain_text import (
    message_to_plain_text,
    mrkdwn_to_plain_text,
    rich_text_to_plain_text,
    title_from_text,
)

from .helpers import fixture, one_section, rich, rich_list, section, txt


def test_the_recorded_message_previews_as_plain_text():
    message = fixture("message_shortcut.json")["message"]
    assert message_to_plain_text(message, StaticNames(users={"U0CSM0001": "Alex"})) == (
        "Export to CSV times out for workspaces with more than 10k rows. @Alex can you look? "
        "See incident 42\n"
        "• happens in Chrome & Safari\n"
        "• started after v2.3\n"
        "Thanks 🙏"
    )


def test_mrkdwn_plain_text_decodes_entities_and_drops_markers():
    assert mrkdwn_to_plain_text("*Tom* &amp; _Jerry_ <https://x.io|site> <@U1|dana>", NO_NAMES) == (
        "Tom & Jerry site @dana"
    )


def test_rich_text_plain_text_keeps_raw_text():
    block = one_section(txt("<b>not a tag</b> & more"), {"type": "link", "url": "https://x.io"})
    assert rich_text_to_plain_text(block, NO_NAMES) == "<b>not a tag</b> & morehttps://x.io"


def test_lists_get_markers_numbers_and_indentation():
    block = rich(
        section(txt("Steps:\n")),
        rich_list("ordered", 0, "one", "two"),
        rich_list("bullet", 1, "detail"),
        rich_list("ordered", 0, "three", offset=2),
    )
    assert rich_text_to_plain_text(block, NO_NAMES) == ("Steps:\n1. one\n2. two\n  • detail\n3. three")


def test_quotes_and_code_blocks():
    text = "&gt; quoted\n```\ncode *x*\n```"
    assert mrkdwn_to_plain_text(text, NO_NAMES) == "> quoted\ncode *x*"


def test_files_and_attachments_show_in_the_preview():
    message = {
        "attachments": [{"title": "Build", "text": "failed"}],
        "files": [{"name": "a.png", "mimetype": "image/png", "permalink": "https://x.io/a"}],
    }
    assert message_to_plain_text(message, NO_NAMES) == "> Build\n> failed\n• Image: a.png"


def test_bidi_controls_are_removed_from_plain_text_too():
    assert mrkdwn_to_plain_text("abc\u202edcba\u2066x\u2069", NO_NAMES) == "abcdcbax"


# Title prefill


def test_a_short_first_line_is_the_title():
    assert title_from_text("\n  \nFirst line  here\nsecond", 80) == "First line here"


def test_a_long_line_is_cut_on_a_word_boundary_with_an_ellipsis():
    title = title_from_text("Export to CSV times out for large workspaces", 20)
    assert title == "Export to CSV times…"
    assert len(title) <= 20


def test_a_cut_that_lands_on_a_space_keeps_the_whole_word_before_it():
    assert title_from_text("abcd efgh ijkl", 10) == "abcd efgh…"


def test_one_long_word_is_cut_inside_it():
    assert title_from_text("Supercalifragilisticexpialidocious", 10) == "Supercali…"


def test_a_short_word_then_a_long_one_is_not_cut_to_a_stub():
    assert title_from_text("A Supercalifragilisticexpialidocious day", 12) == "A Supercali…"


@pytest.mark.parametrize(("limit", "expected"), [(0, ""), (1, "…"), (-5, "")])
def test_tiny_limits(limit, expected):
    assert title_from_text("some words", limit) == expected


def test_no_text_no_title():
    assert title_from_text("", 80) == ""
    assert title_from_text(" \n\t\n", 80) == ""


@given(st.text(), st.integers(min_value=0, max_value=200))
def test_a_title_never_exceeds_its_limit_and_is_one_line(text, limit):
    title = title_from_text(text, limit)
    assert len(title) <= limit
    assert "\n" not in title
    assert title == title.strip()

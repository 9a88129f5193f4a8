"""The Block Kit pieces every surface shares: `clip` keeps a text's lines, `clip_line` puts a name on
one line, and an option (as a model or as the plain dict of an options response) always fits Slack."""

from __future__ import annotations

from bot.slack.blocks import OPTION_TEXT_MAX, clip, clip_line, option, option_json


def test_clip_keeps_text_that_fits_as_written() -> None:
    assert clip("first line\n\nsecond  line", 100) == "first line\n\nsecond  line"


def test_clip_cuts_to_the_limit_and_marks_the_cut() -> None:
    cut = clip("word " * 50, 20)
    assert len(cut) <= 20
    assert cut.endswith("…")
    assert not cut.endswith(" …")


def test_clip_line_puts_the_text_on_one_line() -> None:
    assert clip_line("Acme\n  Corp\tEU") == "Acme Corp EU"


def test_clip_line_cuts_at_an_options_length_by_default() -> None:
    cut = clip_line("x" * 200)
    assert len(cut) == OPTION_TEXT_MAX
    assert cut.endswith("…")


def test_an_options_text_and_description_fit_slack() -> None:
    made = option("n" * 200, "v", "d" * 200).to_dict()
    assert len(made["text"]["text"]) <= OPTION_TEXT_MAX
    assert len(made["description"]["text"]) <= OPTION_TEXT_MAX


def test_an_option_without_text_shows_its_value() -> None:
    assert option("  \n ", "cmp_1").to_dict()["text"]["text"] == "cmp_1"


def test_the_options_response_dict_is_the_same_option() -> None:
    for text in ("Acme", "  \n", "a\nvery " * 30):
        assert option_json(text, "cmp_1") == option(text, "cmp_1").to_dict()

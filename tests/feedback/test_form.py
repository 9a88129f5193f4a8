"""Validating the modal: each problem lands on its own field."""

from __future__ import annotations

from bot.feedback.form import FeedbackForm, Field, validate_form
from bot.render.rich_text_value import mrkdwn_to_rich_text


def test_a_complete_form_has_no_problems() -> None:
    form = FeedbackForm(title="Export times out", contact_email="jane@customer.example")
    assert validate_form(form, has_source=True) == {}


def test_a_bad_email_is_flagged_on_the_email_field() -> None:
    problems = validate_form(FeedbackForm(contact_email="jane@"), has_source=True)
    assert set(problems) == {Field.CONTACT_EMAIL}
    assert "valid email" in problems[Field.CONTACT_EMAIL]


def test_a_missing_email_is_explained() -> None:
    problems = validate_form(FeedbackForm(), has_source=True)
    assert "contact" in problems[Field.CONTACT_EMAIL]


def test_without_a_source_message_the_feedback_is_required() -> None:
    empty = FeedbackForm(contact_email="a@b.co", feedback=mrkdwn_to_rich_text("   "))
    assert set(validate_form(empty, has_source=False)) == {Field.FEEDBACK}
    written = FeedbackForm(contact_email="a@b.co", feedback=mrkdwn_to_rich_text("SSO please"))
    assert validate_form(written, has_source=False) == {}


def test_a_title_over_512_characters_is_flagged() -> None:
    problems = validate_form(FeedbackForm(title="x" * 513, contact_email="a@b.co"), has_source=True)
    assert set(problems) == {Field.TITLE}
    assert "513" in problems[Field.TITLE]


def test_all_problems_are_reported_at_once() -> None:
    form = FeedbackForm(title="x" * 600, contact_email="nope")
    assert set(validate_form(form, has_source=False)) == {
        Field.TITLE,
        Field.FEEDBACK,
        Field.CONTACT_EMAIL,
    }

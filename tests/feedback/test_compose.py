"""Compose: the form and its message become Productlane's create-thread request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.feedback.compose import SlackContext, compose_thread
from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage, source_from_message_shortcut
from bot.productlane.models import PainLevel, ThreadOrigin
from bot.render.names import StaticNames
from bot.render.rich_text_value import mrkdwn_to_rich_text

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"
NAMES = StaticNames(users={"U0CSM0001": "Sam", "U0CUST0003": "Jane Doe", "U0CSM0002": "dana"})
PERMALINK = "https://acme.slack.com/archives/C0FEEDBACK/p1764252900000100"


def source() -> SourceMessage:
    return source_from_message_shortcut(json.loads((FIXTURES / "message_shortcut.json").read_text()))


def context(**changes: Any) -> SlackContext:
    values: dict[str, Any] = {
        "permalink": PERMALINK,
        "channel_name": "customer-feedback",
        "author_name": "Jane Doe",
        "submitter_name": "dana",
    }
    return SlackContext(**{**values, **changes})


def form(**changes: Any) -> FeedbackForm:
    values: dict[str, Any] = {
        "title": "Export to CSV times out",
        "pain_level": PainLevel.HIGH,
        "contact_email": " jane@customer.example ",
        "contact_name": "Jane Doe",
        "notify_slack": True,
    }
    return FeedbackForm(**{**values, **changes})


def test_the_message_its_fields_and_a_link_back_make_the_request() -> None:
    request = compose_thread(form(), source(), "U0CSM0002", context(), NAMES)
    assert request.title == "Export to CSV times out"
    assert request.pain_level is PainLevel.HIGH
    assert str(request.contact_email) == "jane@customer.example"
    assert request.contact_name == "Jane Doe"
    assert request.origin is ThreadOrigin.slack
    assert request.notify is not None
    assert (request.notify.slack, request.notify.email) == (True, False)
    assert "<strong>Export to CSV times out</strong>" in request.text
    assert "@Sam" in request.text
    assert "Chrome &amp; Safari" in request.text
    assert f'href="{PERMALINK}"' in request.text
    assert "#customer-feedback" in request.text
    assert "message by @Jane Doe" in request.text
    assert "sent by @dana" in request.text


def test_a_note_goes_under_the_message() -> None:
    note = mrkdwn_to_rich_text("They are an enterprise customer")
    request = compose_thread(form(note=note), source(), "U0CSM0002", context(), NAMES)
    assert request.text.index("Export to CSV") < request.text.index("Note from @dana")
    assert "They are an enterprise customer" in request.text


def test_a_shared_channel_or_an_external_author_is_slack_connect() -> None:
    shared = compose_thread(form(), source(), "U0CSM0002", context(channel_is_shared=True), NAMES)
    assert shared.origin is ThreadOrigin.slack_connect
    external = source().model_copy(update={"author_team_id": "T0CUSTOMER"})
    assert compose_thread(form(), external, "U0CSM0002", context(), NAMES).origin is (
        ThreadOrigin.slack_connect
    )


def test_an_empty_title_comes_from_the_first_line() -> None:
    request = compose_thread(form(title=""), source(), "U0CSM0002", context(), NAMES)
    assert request.title is not None
    assert request.title.startswith("Export to CSV times out")


def test_feedback_without_a_source_is_the_typed_text_and_who_sent_it() -> None:
    typed = mrkdwn_to_rich_text("Customer wants SSO via Okta &amp; SCIM (<https://okta.com|Okta>)")
    request = compose_thread(
        form(title="", feedback=typed),
        None,
        "U0CSM0002",
        SlackContext(submitter_name="dana"),
        NAMES,
    )
    assert "Customer wants SSO via Okta &amp; SCIM" in request.text
    assert 'href="https://okta.com"' in request.text
    assert "Sent from Slack by @dana" in request.text
    assert request.origin is ThreadOrigin.slack
    assert request.title is not None
    assert request.title.startswith("Customer wants SSO")


def test_slack_text_never_becomes_markup() -> None:
    hostile = form(title="<script>", note=mrkdwn_to_rich_text('<b onclick="x">hi</b>'))
    request = compose_thread(hostile, source(), "U0CSM0002", context(author_name='"><img src=x>'), NAMES)
    assert "<b " not in request.text
    assert "<img" not in request.text
    assert "&lt;b onclick" in request.text

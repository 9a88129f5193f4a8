"""The feedback modal: built with slack_sdk's models, within every Block Kit limit, for any message."""

from __future__ import annotations

from bot.feedback.form import FeedbackForm, Field
from bot.productlane.models import PainLevel
from bot.render.rich_text_value import mrkdwn_to_rich_text
from bot.ui.views import (
    ModalContent,
    errors_response,
    feedback_modal,
    form_from_state,
    message_modal,
)
from tests.fakes.slack import build_state_values

FORM = FeedbackForm(
    title="Export to CSV times out",
    note=mrkdwn_to_rich_text("enterprise customer"),
    pain_level=PainLevel.HIGH,
    contact_email="jane@customer.example",
    contact_name="Jane Doe",
    notify_slack=True,
)


def content(**changes: object) -> ModalContent:
    values: dict[str, object] = {
        "draft_id": "d" * 32,
        "form": FORM,
        "has_source": True,
        "source_label": "Message from @Jane Doe in #customer-feedback",
        "preview": "Export to CSV times out",
    }
    values.update(changes)
    return ModalContent(**values)  # type: ignore[arg-type]


def test_the_modal_round_trips_everything_entered() -> None:
    view = feedback_modal(content()).to_dict()
    state = build_state_values(view["blocks"], {})
    assert form_from_state(state, default_pain=PainLevel.UNKNOWN) == FORM


def test_a_huge_message_stays_within_block_kit_limits() -> None:
    huge = "word " * 20_000
    view = feedback_modal(
        content(
            preview=huge,
            source_label=huge,
            form=FORM.model_copy(update={"title": huge, "contact_name": huge}),
            notices=tuple(huge for _ in range(3)),
        )
    )
    view.validate_json()  # slack_sdk raises on any limit broken
    data = view.to_dict()
    assert len(data["blocks"]) <= 100
    assert len(data["private_metadata"]) <= 3000
    assert len(data["title"]["text"]) <= 24
    preview = next(block for block in data["blocks"] if block.get("block_id") == "preview")
    assert len(preview["text"]["text"]) <= 3000
    title = next(block for block in data["blocks"] if block.get("block_id") == "title")
    assert len(title["element"]["initial_value"]) <= 512


def test_without_a_source_the_modal_asks_for_the_feedback() -> None:
    data = feedback_modal(content(has_source=False, preview=None, source_label=None)).to_dict()
    ids = [block.get("block_id") for block in data["blocks"]]
    assert "feedback" in ids
    assert "preview" not in ids
    assert "note" not in ids


def test_defaults_tick_nothing_when_no_notification_is_wanted() -> None:
    quiet = FORM.model_copy(update={"notify_slack": False, "notify_email": False})
    data = feedback_modal(content(form=quiet)).to_dict()
    notify = next(block for block in data["blocks"] if block.get("block_id") == "notify")
    assert "initial_options" not in notify["element"]


def test_errors_land_on_the_fields_block() -> None:
    assert errors_response({Field.CONTACT_EMAIL: "bad"}) == {"contact_email": "bad"}


def test_an_explanation_modal_fits_its_title() -> None:
    view = message_modal("A title far longer than Slack allows", "because")
    view.validate_json()
    assert len(view.to_dict()["title"]["text"]) <= 24


# --- the whole thread ---------------------------------------------------------------------------


def test_a_message_in_a_thread_is_offered_the_whole_thread_off_by_default() -> None:
    data = feedback_modal(content(offer_thread=True, thread_size=31)).to_dict()
    block = next(block for block in data["blocks"] if block.get("block_id") == "include_thread")
    assert block["optional"] is True
    assert block["element"]["options"][0]["text"]["text"] == "Include the whole thread (31 messages)"
    assert "initial_options" not in block["element"]
    state = build_state_values(data["blocks"], {"include_thread": {"include_thread": ["include"]}})
    assert form_from_state(state, default_pain=PainLevel.UNKNOWN).include_thread is True
    untouched = build_state_values(data["blocks"], {})
    assert form_from_state(untouched, default_pain=PainLevel.UNKNOWN).include_thread is False


def test_the_thread_size_may_be_unknown_and_a_resent_form_keeps_the_tick() -> None:
    ticked = FORM.model_copy(update={"include_thread": True})
    data = feedback_modal(content(offer_thread=True, form=ticked)).to_dict()
    block = next(block for block in data["blocks"] if block.get("block_id") == "include_thread")
    assert block["element"]["options"][0]["text"]["text"] == "Include the whole thread"
    assert block["element"]["initial_options"][0]["value"] == "include"


def test_a_message_outside_any_thread_is_not_offered_one() -> None:
    data = feedback_modal(content()).to_dict()
    assert "include_thread" not in [block.get("block_id") for block in data["blocks"]]

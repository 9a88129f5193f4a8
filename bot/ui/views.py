"""The feedback modal in Block Kit, and reading its state back into a FeedbackForm.

Views are built with slack_sdk's models and validated by them, so every Block Kit limit (title length,
private_metadata size, block count, text lengths) is checked before Slack sees the view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    EmailInputElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RichTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.feedback.form import PAIN_LABELS, TITLE_MAX, FeedbackForm, Field
from bot.productlane.models import PainLevel
from bot.slack.blocks import clip, option
from bot.slack.ids import FEEDBACK_MODAL
from bot.triage.fields import NO_TRIAGE, TriageView, triage_blocks

MODAL_TITLE = "Send to Productlane"
PREVIEW_MAX = 2900  # a section's text may hold 3,000 characters
CONTEXT_MAX = 1900  # a context element's text may hold 2,000
NAME_MAX = 255
NOTIFY_SLACK, NOTIFY_EMAIL = "slack", "email"
INCLUDE_THREAD = "include"
FILLED_SUFFIX = ".filled"


@dataclass(frozen=True)
class ModalContent:
    """Everything the feedback modal shows."""

    draft_id: str  # the only thing kept in private_metadata: the message itself is stored by us
    form: FeedbackForm
    has_source: bool
    source_label: str | None = None  # e.g. "Message from @Jane Doe in #customer-feedback"
    preview: str | None = None  # the source message as plain text
    notices: tuple[str, ...] = ()  # e.g. "Looking up the author's details…"
    # Fields whose value arrived after the modal opened. Slack keeps an input's state across
    # views.update while its block_id stays the same, ignoring a new initial_value; a new block_id
    # makes the looked-up value show. Only fields that were empty at open are renamed, so
    # nothing a person typed is replaced.
    filled_later: frozenset[Field] = frozenset()
    # The message is in a thread: offer to include the whole of it, with its size
    # when known.
    offer_thread: bool = False
    thread_size: int | None = None
    # "Edit details" on a thread already in Productlane: only what it can change.
    editing: bool = False
    # Triage: the Company, Link to, Tags and Assignee fields the catalog can serve.
    triage: TriageView = NO_TRIAGE

    def block_id(self, field: Field) -> str:
        return f"{field.value}{FILLED_SUFFIX}" if field in self.filled_later else field.value


def _pain_options() -> list[Option]:
    return [option(label, level.value) for level, label in PAIN_LABELS.items()]


def _notify_options() -> list[Option]:
    return [
        option("Notify in Slack", NOTIFY_SLACK),
        option("Notify by email", NOTIFY_EMAIL),
    ]


def _notify_initial(form: FeedbackForm) -> list[Option] | None:
    chosen = [
        option
        for option, on in zip(_notify_options(), (form.notify_slack, form.notify_email), strict=True)
        if on
    ]
    return chosen or None  # Slack rejects an empty initial_options list


def _source_blocks(content: ModalContent) -> list[Block]:
    blocks: list[Block] = []
    if content.source_label:
        blocks.append(ContextBlock(elements=[PlainTextObject(text=clip(content.source_label, CONTEXT_MAX))]))
    preview = (content.preview or "").strip() or "(no text: files or attachments only)"
    blocks.append(SectionBlock(block_id="preview", text=PlainTextObject(text=clip(preview, PREVIEW_MAX))))
    return blocks


def thread_option_label(size: int | None) -> str:
    return f"Include the whole thread ({size} messages)" if size else "Include the whole thread"


def _thread_block(content: ModalContent) -> InputBlock:
    include = option(thread_option_label(content.thread_size), INCLUDE_THREAD)
    return InputBlock(
        block_id=Field.INCLUDE_THREAD,
        label="Slack thread",
        optional=True,
        hint="Off: only this message is sent. On: every person's message in the thread, in order.",
        element=CheckboxesElement(
            action_id=Field.INCLUDE_THREAD,
            options=[include],
            initial_options=[include] if content.form.include_thread else None,
        ),
    )


EDITING_NOTICE = (
    "This feedback is in Productlane already. *Save* changes its details there "
    "and updates the reply in Slack."
)


def _title_block(form: FeedbackForm) -> InputBlock:
    return InputBlock(
        block_id=Field.TITLE,
        label="Title",
        optional=True,
        hint="Leave empty to use the first line of the feedback.",
        element=PlainTextInputElement(
            action_id=Field.TITLE,
            initial_value=clip(form.title, TITLE_MAX) or None,
            max_length=TITLE_MAX,
        ),
    )


def _pain_block(form: FeedbackForm) -> InputBlock:
    return InputBlock(
        block_id=Field.PAIN_LEVEL,
        label="Pain level",
        element=StaticSelectElement(
            action_id=Field.PAIN_LEVEL,
            options=_pain_options(),
            initial_option=option(PAIN_LABELS[form.pain_level], form.pain_level.value),
        ),
    )


def edit_details_modal(content: ModalContent) -> View:
    """ "Edit details": the thread's title and pain level, and its triage fields, which
    Productlane can change."""
    blocks: list[Block] = [ContextBlock(elements=[MarkdownTextObject(text=EDITING_NOTICE)])]
    if content.has_source:
        blocks += _source_blocks(content)
    blocks += [_title_block(content.form), _pain_block(content.form)]
    blocks += triage_blocks(content.triage, content.block_id, editing=True)
    return View(
        type="modal",
        callback_id=FEEDBACK_MODAL,
        title="Edit details",
        submit="Save",
        close="Cancel",
        private_metadata=content.draft_id,
        blocks=blocks,
    )


def feedback_modal(content: ModalContent) -> View:
    if content.editing:
        return edit_details_modal(content)
    form = content.form
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=clip(notice, CONTEXT_MAX))])
        for notice in content.notices
    ]
    if content.has_source:
        blocks += _source_blocks(content)
    blocks.append(_title_block(form))
    if content.has_source and content.offer_thread:
        blocks.append(_thread_block(content))
    if content.has_source:
        blocks.append(
            InputBlock(
                block_id=Field.NOTE,
                label="Note",
                optional=True,
                hint="Added under the message in Productlane.",
                element=RichTextInputElement(action_id=Field.NOTE, initial_value=form.note),
            )
        )
    else:
        blocks.append(
            InputBlock(
                block_id=Field.FEEDBACK,
                label="Feedback",
                element=RichTextInputElement(
                    action_id=Field.FEEDBACK,
                    initial_value=form.feedback,
                    placeholder="What did the customer say?",
                    focus_on_load=True,
                ),
            )
        )
    blocks += [
        _pain_block(form),
        InputBlock(
            block_id=content.block_id(Field.CONTACT_EMAIL),
            label="Contact email",
            hint="The customer this feedback is from. Productlane files it under this contact.",
            element=EmailInputElement(
                action_id=Field.CONTACT_EMAIL,
                initial_value=form.contact_email or None,
                placeholder="jane@customer.com",
            ),
        ),
        InputBlock(
            block_id=content.block_id(Field.CONTACT_NAME),
            label="Contact name",
            optional=True,
            hint="Used when Productlane creates a new contact.",
            element=PlainTextInputElement(
                action_id=Field.CONTACT_NAME,
                initial_value=clip(form.contact_name, NAME_MAX) or None,
                max_length=NAME_MAX,
            ),
        ),
        *triage_blocks(content.triage, content.block_id),
        InputBlock(
            block_id=Field.NOTIFY,
            label="Notify",
            optional=True,
            element=CheckboxesElement(
                action_id=Field.NOTIFY,
                options=_notify_options(),
                initial_options=_notify_initial(form),
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=FEEDBACK_MODAL,
        title=MODAL_TITLE,
        submit="Send",
        close="Cancel",
        private_metadata=content.draft_id,
        blocks=blocks,
    )


def message_modal(title: str, text: str) -> View:
    """A modal that only tells the person something (e.g. why a message can't be sent)."""
    return View(
        type="modal",
        title=clip(title, 24),
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, PREVIEW_MAX)))],
    )


def field_of(block_id: str) -> str:
    return block_id.removesuffix(FILLED_SUFFIX)


def _value(values: Mapping[str, Any], field: Field) -> Mapping[str, Any]:
    block = values.get(field.value) or values.get(f"{field.value}{FILLED_SUFFIX}")
    if not isinstance(block, Mapping):
        return {}
    action = block.get(field.value)
    return action if isinstance(action, Mapping) else {}


def _string(values: Mapping[str, Any], field: Field) -> str:
    value = _value(values, field).get("value")
    return value if isinstance(value, str) else ""


def _rich_text(values: Mapping[str, Any], field: Field) -> dict[str, Any] | None:
    value = _value(values, field).get("rich_text_value")
    return dict(value) if isinstance(value, Mapping) else None


def form_from_state(values: Mapping[str, Any], *, default_pain: PainLevel) -> FeedbackForm:
    """Read a view_submission's `view.state.values` into a FeedbackForm."""
    selected = _value(values, Field.PAIN_LEVEL).get("selected_option") or {}
    pain_value = selected.get("value") if isinstance(selected, Mapping) else None
    pain = PainLevel(str(pain_value)) if pain_value in PainLevel.__members__ else default_pain
    checked = _value(values, Field.NOTIFY).get("selected_options") or []
    notify = {option.get("value") for option in checked if isinstance(option, Mapping)}
    thread = _value(values, Field.INCLUDE_THREAD).get("selected_options") or []
    include_thread = any(isinstance(o, Mapping) and o.get("value") == INCLUDE_THREAD for o in thread)
    return FeedbackForm(
        title=_string(values, Field.TITLE).strip(),
        feedback=_rich_text(values, Field.FEEDBACK),
        note=_rich_text(values, Field.NOTE),
        pain_level=pain,
        contact_email=_string(values, Field.CONTACT_EMAIL).strip(),
        contact_name=_string(values, Field.CONTACT_NAME).strip(),
        notify_slack=NOTIFY_SLACK in notify,
        notify_email=NOTIFY_EMAIL in notify,
        include_thread=include_thread,
    )


def errors_response(problems: Mapping[Field, str], view: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`response_action: errors` wants {block_id: message}, with the block ids the view has."""
    blocks = (view or {}).get("blocks") or []
    ids = {field_of(str(b.get("block_id"))): str(b.get("block_id")) for b in blocks if isinstance(b, Mapping)}
    return {ids.get(field.value, field.value): clip(message, 150) for field, message in problems.items()}

"""The channel settings modal (`/feedback settings`) in Block Kit, and reading its state back.

Pure: the channel's settings in, a view out; a submission's `view.state.values` in, the values to save
out. The company and tag selects are external selects with the triage action ids (`COMPANY_SELECT`,
`TAGS_SELECT`): the catalog's `block_suggestion` listener answers them here as in the feedback modal.
Their initial options need a name for an id; `CatalogNames` gives it, and without a catalog the id
itself is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    ExternalDataMultiSelectElement,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.catalog.kinds import Kind
from bot.channels.model import Capture, ChannelSettings, Confirm
from bot.feedback.form import PAIN_LABELS
from bot.productlane.models import PainLevel
from bot.slack.blocks import option
from bot.slack.ids import CHANNEL_SETTINGS_MODAL, COMPANY_SELECT, TAGS_SELECT

COMPANY, TAG = Kind.COMPANIES, Kind.TAGS
TITLE = "Channel settings"
DEFAULT = "default"
MAX_TAGS = 50

# Block ids (action ids are the same, except the two triage selects).
COMPANY_BLOCK = "channel_company"
NO_COMPANY = "channel_no_company"
PAIN_BLOCK = "channel_pain_level"
TAGS_BLOCK = "channel_tags"
CAPTURE_BLOCK = "channel_capture"
CONFIRM_BLOCK = "channel_confirm"
CONVERSATION_BLOCK = "channel_conversation"
FOLLOWUPS, REPLIES = "followups", "replies"


class CatalogNames(Protocol):
    """The name of a Productlane company or tag by its id (None: not known)."""

    def name(self, kind: Kind, item_id: str) -> str | None: ...


class IdsAsNames:
    """No catalog: the ids show as they are."""

    def name(self, kind: Kind, item_id: str) -> str | None:
        return None


@dataclass(frozen=True)
class SettingsModalContent:
    channel_id: str
    settings: ChannelSettings
    default_pain: PainLevel
    emoji: str  # FEEDBACK_REACTION; empty: filing by emoji is off everywhere
    changed_by: str | None = None
    changed_at: datetime | None = None


def _named(names: CatalogNames, kind: Kind, item_id: str) -> Option:
    return option(names.name(kind, item_id) or item_id, item_id)


def capture_options(emoji: str) -> list[Option]:
    emoji_option = (
        option(
            f"Shortcut and the :{emoji}: emoji", Capture.REACTION, f"Reacting with :{emoji}: files a message"
        )
        if emoji
        else option("Shortcut and the emoji", Capture.REACTION, "FEEDBACK_REACTION is empty: no emoji yet")
    )
    return [
        option("Shortcut only", Capture.SHORTCUT, "Send to Productlane on a message, or /feedback"),
        emoji_option,
        option("Every new message", Capture.AUTOMATIC, "Each new top-level message by a person is filed"),
    ]


def confirm_options() -> list[Option]:
    return [
        option("A reply in the thread", Confirm.THREAD, "Everyone in the channel sees the link"),
        option("Only the person who filed it", Confirm.PRIVATE, "A direct message; nobody, if captured"),
        option("A ✅ reaction on the message", Confirm.REACTION, "Nothing else: no bot message to read"),
    ]


def conversation_options() -> list[Option]:
    return [
        option("Replies in the Slack thread go to Productlane", FOLLOWUPS),
        option("The team's replies in Productlane are posted in Slack", REPLIES),
    ]


def _pain_options(default_pain: PainLevel) -> list[Option]:
    return [
        option(f"As everywhere ({PAIN_LABELS[default_pain]})", DEFAULT),
        *(option(label, level.value) for level, label in PAIN_LABELS.items()),
    ]


def effective_capture(settings: ChannelSettings, emoji: str) -> Capture:
    """What the capture radio shows for a channel that has not chosen: what happens there today."""
    if settings.capture is not None:
        return settings.capture
    return Capture.REACTION if emoji else Capture.SHORTCUT


def _initial(options: list[Option], value: str) -> Option:
    return next(option for option in options if option.value == value)


def settings_modal(content: SettingsModalContent, names: CatalogNames) -> View:
    settings = content.settings
    intro = (
        f"Settings for <#{content.channel_id}>. Saved changes take effect within a few seconds. "
        "Every field is optional."
    )
    if content.changed_at is not None:
        who = f" by <@{content.changed_by}>" if content.changed_by and content.changed_by != "cli" else ""
        via = " (by `productlane-slack channels import`)" if content.changed_by == "cli" else ""
        epoch = int(content.changed_at.timestamp())
        intro += f"\nLast changed{who}{via} <!date^{epoch}^{{date_short_pretty}} at {{time}}|recently>."
    company_hint = (
        "Threads from this channel are filed under this company (a customer's Slack Connect channel)."
    )
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=intro)]),
        InputBlock(
            block_id=COMPANY_BLOCK,
            label="Company",
            optional=True,
            hint=company_hint,
            element=ExternalDataSelectElement(
                action_id=COMPANY_SELECT,
                placeholder="Search Productlane's companies",
                min_query_length=0,
                initial_option=_named(names, COMPANY, settings.company_id) if settings.company_id else None,
            ),
        ),
    ]
    if settings.company_id:
        # A select cannot be emptied once chosen: this is how a company is taken off again.
        label = names.name(COMPANY, settings.company_id) or settings.company_id
        remove = option(f"No company (remove {label})", NO_COMPANY)
        blocks.append(
            InputBlock(
                block_id=NO_COMPANY,
                label="Remove the company",
                optional=True,
                element=CheckboxesElement(action_id=NO_COMPANY, options=[remove]),
            )
        )
    pain_options = _pain_options(content.default_pain)
    capture = capture_options(content.emoji)
    confirm = confirm_options()
    conversation = conversation_options()
    conversation_on = [
        option for option, on in zip(conversation, (settings.followups, settings.replies), strict=True) if on
    ]
    blocks += [
        InputBlock(
            block_id=PAIN_BLOCK,
            label="Default pain level",
            element=StaticSelectElement(
                action_id=PAIN_BLOCK,
                options=pain_options,
                initial_option=_initial(
                    pain_options, settings.pain_level.value if settings.pain_level else DEFAULT
                ),
            ),
        ),
        InputBlock(
            block_id=TAGS_BLOCK,
            label="Default tags",
            optional=True,
            hint="Added to every thread from this channel, beside the tags chosen when filing.",
            element=ExternalDataMultiSelectElement(
                action_id=TAGS_SELECT,
                placeholder="Search Productlane's tags",
                min_query_length=0,
                max_selected_items=MAX_TAGS,
                initial_options=[_named(names, TAG, tag) for tag in settings.tag_ids] or None,
            ),
        ),
        InputBlock(
            block_id=CAPTURE_BLOCK,
            label="Capture",
            element=RadioButtonsElement(
                action_id=CAPTURE_BLOCK,
                options=capture,
                initial_option=_initial(capture, effective_capture(settings, content.emoji)),
            ),
        ),
        InputBlock(
            block_id=CONFIRM_BLOCK,
            label="Confirm",
            element=RadioButtonsElement(
                action_id=CONFIRM_BLOCK,
                options=confirm,
                initial_option=_initial(confirm, settings.confirmation),
            ),
        ),
        InputBlock(
            block_id=CONVERSATION_BLOCK,
            label="Conversation",
            optional=True,
            element=CheckboxesElement(
                action_id=CONVERSATION_BLOCK, options=conversation, initial_options=conversation_on or None
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=CHANNEL_SETTINGS_MODAL,
        title=TITLE,
        submit="Save",
        close="Cancel",
        private_metadata=content.channel_id,
        blocks=blocks,
    )


def _action(values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = values.get(block_id)
    action = block.get(action_id) if isinstance(block, Mapping) else None
    return action if isinstance(action, Mapping) else {}


def _selected(values: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    selected = _action(values, block_id, action_id).get("selected_option")
    value = selected.get("value") if isinstance(selected, Mapping) else None
    return value if isinstance(value, str) and value else None


def _selected_many(values: Mapping[str, Any], block_id: str, action_id: str) -> list[str]:
    options = _action(values, block_id, action_id).get("selected_options") or []
    chosen = [option.get("value") for option in options if isinstance(option, Mapping)]
    return [value for value in chosen if isinstance(value, str) and value]


def settings_from_state(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values to save from a submitted settings modal: every key it shows (a modal replaces them
    all; an option Slack did not send leaves the key to its default)."""
    pain = _selected(values, PAIN_BLOCK, PAIN_BLOCK)
    conversation = set(_selected_many(values, CONVERSATION_BLOCK, CONVERSATION_BLOCK))
    removed = NO_COMPANY in _selected_many(values, NO_COMPANY, NO_COMPANY)
    tags = list(dict.fromkeys(_selected_many(values, TAGS_BLOCK, TAGS_SELECT)))
    return {
        "company_id": None if removed else _selected(values, COMPANY_BLOCK, COMPANY_SELECT),
        "pain_level": pain if pain in PainLevel.__members__ else None,
        "tag_ids": tags,
        "capture": _selected(values, CAPTURE_BLOCK, CAPTURE_BLOCK),
        "confirm": _selected(values, CONFIRM_BLOCK, CONFIRM_BLOCK),
        "followups": FOLLOWUPS in conversation,
        "replies": REPLIES in conversation,
    }

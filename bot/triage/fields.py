"""The triage fields of the feedback modal (and of "Edit details"): Company, Link to, Tags and
Assignee, each a searchable select answered from the catalog; and reading them back from a
submission. Each field is shown only when the catalog has what it offers (`TriageView.fields`).

The selects are `external_select`s: Slack asks the bot for their options as the person types
(`block_suggestion`, see `bot.triage.suggest`). A preselected value is an `initial_option` with
the name the catalog has for it; a field filled in after the modal opened (the company found from
the author's email) gets a new block id, as the contact fields do (see `ModalContent.filled_later`),
so that Slack shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ExternalDataMultiSelectElement,
    ExternalDataSelectElement,
    InputBlock,
    Option,
)

from bot.feedback.form import FeedbackForm, Field
from bot.slack.blocks import option
from bot.slack.ids import ASSIGNEE_SELECT, COMPANY_SELECT, LINK_SELECT, TAGS_SELECT
from bot.triage.choices import link_value, parse_link

__all__ = [
    "ACTIONS",
    "NO_TRIAGE",
    "TRIAGE_FIELDS",
    "Choice",
    "TriageChoices",
    "TriageView",
    "read_triage",
    "triage_blocks",
]

TRIAGE_FIELDS = (Field.COMPANY, Field.LINK, Field.TAGS, Field.ASSIGNEE)
# The select's action id in each field's block (the block id is the field's name).
ACTIONS: dict[Field, str] = {
    Field.COMPANY: COMPANY_SELECT,
    Field.LINK: LINK_SELECT,
    Field.TAGS: TAGS_SELECT,
    Field.ASSIGNEE: ASSIGNEE_SELECT,
}
TAGS_MAX = 20


@dataclass(frozen=True)
class Choice:
    value: str  # the option's value: an id, or issue:<id> / project:<id>
    label: str


@dataclass(frozen=True)
class TriageView:
    """Which triage fields the modal shows, and what each starts with."""

    fields: frozenset[Field] = frozenset()
    company: Choice | None = None
    link: Choice | None = None
    tags: tuple[Choice, ...] = ()
    assignee: Choice | None = None


NO_TRIAGE = TriageView()
"""No triage field: the modal as it was before triage fields existed."""


def _choice_option(choice: Choice) -> Option:
    return option(choice.label, choice.value)


def triage_blocks(
    view: TriageView, block_id: Callable[[Field], str], *, editing: bool = False
) -> list[InputBlock]:
    """The input blocks of the fields `view` shows, in the modal's order."""
    blocks: list[InputBlock] = []
    if Field.COMPANY in view.fields:
        blocks.append(
            InputBlock(
                block_id=block_id(Field.COMPANY),
                label="Company",
                optional=True,
                hint="The customer's company in Productlane.",
                element=ExternalDataSelectElement(
                    action_id=COMPANY_SELECT,
                    placeholder="Search companies",
                    min_query_length=0,
                    initial_option=_choice_option(view.company) if view.company else None,
                ),
            )
        )
    if Field.LINK in view.fields:
        hint = (
            "Adds a link to the issue or project; links made earlier stay (remove them in Productlane)."
            if editing
            else "An existing issue or project this feedback is about."
        )
        blocks.append(
            InputBlock(
                block_id=block_id(Field.LINK),
                label="Link to",
                optional=True,
                hint=hint,
                element=ExternalDataSelectElement(
                    action_id=LINK_SELECT,
                    placeholder="Search issues and projects",
                    min_query_length=0,
                    initial_option=_choice_option(view.link) if view.link else None,
                ),
            )
        )
    if Field.TAGS in view.fields:
        blocks.append(
            InputBlock(
                block_id=block_id(Field.TAGS),
                label="Tags",
                optional=True,
                element=ExternalDataMultiSelectElement(
                    action_id=TAGS_SELECT,
                    placeholder="Search tags",
                    min_query_length=0,
                    max_selected_items=TAGS_MAX,
                    initial_options=[_choice_option(tag) for tag in view.tags] or None,
                ),
            )
        )
    if Field.ASSIGNEE in view.fields:
        blocks.append(
            InputBlock(
                block_id=block_id(Field.ASSIGNEE),
                label="Assignee",
                optional=True,
                hint="Who in your team looks after this feedback in Productlane.",
                element=ExternalDataSelectElement(
                    action_id=ASSIGNEE_SELECT,
                    placeholder="Search people",
                    min_query_length=0,
                    initial_option=_choice_option(view.assignee) if view.assignee else None,
                ),
            )
        )
    return blocks


# --- reading a submission -----------------------------------------------------------------------


@dataclass(frozen=True)
class TriageChoices:
    """What the triage fields held when the modal was sent; `shown`: the fields the modal had."""

    shown: frozenset[Field] = frozenset()
    company_id: str | None = None
    issue_id: str | None = None
    project_id: str | None = None
    tag_ids: tuple[str, ...] = ()
    assignee_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # id → the option's text

    def apply(self, form: FeedbackForm, names: Callable[[str, str], str]) -> FeedbackForm:
        """The form with the shown fields set from these choices (the others left as they are).
        ``names(id, label)``: the name to keep for an id (the catalog's, else the option's text)."""
        update: dict[str, Any] = {}
        if Field.COMPANY in self.shown:
            update["company_id"] = self.company_id
        if Field.LINK in self.shown:
            update["issue_id"], update["project_id"] = self.issue_id, self.project_id
        if Field.TAGS in self.shown:
            update["tag_ids"] = self.tag_ids
        if Field.ASSIGNEE in self.shown:
            update["assignee_id"] = self.assignee_id
        if not update:
            return form
        merged = {**form.triage_names, **{key: names(key, label) for key, label in self.labels.items()}}
        update["triage_names"] = merged
        return form.model_copy(update=update)


def _action(values: Mapping[str, Any], field_: Field) -> Mapping[str, Any] | None:
    """The select's state in the block of `field_` (whatever suffix its block id has), or None
    when the modal did not have the field."""
    for block_id, actions in values.items():
        if block_id.split(".", 1)[0] == field_.value and isinstance(actions, Mapping):
            found = actions.get(ACTIONS[field_])
            return found if isinstance(found, Mapping) else {}
    return None


def _selected(option: Any) -> tuple[str, str] | None:
    if not isinstance(option, Mapping) or not isinstance(option.get("value"), str) or not option["value"]:
        return None
    text = option.get("text")
    label = text.get("text") if isinstance(text, Mapping) else None
    return option["value"], label if isinstance(label, str) else option["value"]


def read_triage(values: Mapping[str, Any]) -> TriageChoices:
    """The triage fields of a view_submission's `view.state.values`."""
    shown: set[Field] = set()
    labels: dict[str, str] = {}
    chosen: dict[str, Any] = {}
    for field_, key in ((Field.COMPANY, "company_id"), (Field.ASSIGNEE, "assignee_id")):
        state = _action(values, field_)
        if state is None:
            continue
        shown.add(field_)
        selected = _selected(state.get("selected_option"))
        if selected:
            chosen[key] = selected[0]
            labels[selected[0]] = selected[1]
    state = _action(values, Field.LINK)
    if state is not None:
        shown.add(Field.LINK)
        selected = _selected(state.get("selected_option"))
        if selected:
            chosen["issue_id"], chosen["project_id"] = parse_link(selected[0])
            labels.update({key: selected[1] for key in (chosen["issue_id"], chosen["project_id"]) if key})
    state = _action(values, Field.TAGS)
    if state is not None:
        shown.add(Field.TAGS)
        picked = state.get("selected_options")
        tags = [_selected(option) for option in picked] if isinstance(picked, list) else []
        chosen["tag_ids"] = tuple(dict.fromkeys(tag[0] for tag in tags if tag))
        labels.update({tag[0]: tag[1] for tag in tags if tag})
    return TriageChoices(shown=frozenset(shown), labels=labels, **chosen)


def link_choice(form: FeedbackForm, label: Callable[[str], str | None]) -> Choice | None:
    value = link_value(form.issue_id, form.project_id)
    target = form.issue_id or form.project_id
    if value is None or target is None:
        return None
    return Choice(value, label(target) or target)

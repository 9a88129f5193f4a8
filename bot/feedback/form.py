"""What the person entered in the feedback modal, and whether it can be sent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from bot.productlane.models import PainLevel
from bot.render.names import NO_NAMES
from bot.render.plain_text import rich_text_to_plain_text

TITLE_MAX = 512  # Productlane's limit on a thread title


class Field(StrEnum):
    """The modal's fields; a validation problem names the one it belongs on."""

    TITLE = "title"
    FEEDBACK = "feedback"
    NOTE = "note"
    PAIN_LEVEL = "pain_level"
    CONTACT_EMAIL = "contact_email"
    CONTACT_NAME = "contact_name"
    NOTIFY = "notify"
    INCLUDE_THREAD = "include_thread"
    # Triage: searchable selects, shown when the catalog has what they offer.
    COMPANY = "company"
    LINK = "link"
    TAGS = "tags"
    ASSIGNEE = "assignee"


class FeedbackForm(BaseModel):
    """The modal's values. Also what "Edit and resend" reopens the modal with."""

    model_config = ConfigDict(frozen=True)

    title: str = ""
    # A rich_text block: the feedback itself when there is no source message…
    feedback: dict[str, Any] | None = None
    # …or the submitter's note, added under the source message.
    note: dict[str, Any] | None = None
    pain_level: PainLevel = PainLevel.UNKNOWN
    contact_email: str = ""
    contact_name: str = ""
    notify_slack: bool = False
    notify_email: bool = False
    # Send the whole Slack thread the message belongs to, not only the message.
    include_thread: bool = False
    # Triage: Productlane ids chosen in the modal, or the channel's defaults. All optional.
    company_id: str | None = None
    issue_id: str | None = None  # linked to an issue…
    project_id: str | None = None  # …or to a project (one or the other)
    tag_ids: tuple[str, ...] = ()  # set by PATCH once the thread exists (none are taken on create)
    assignee_id: str | None = None
    # What the chosen company, issue or project, tags and assignee are called (id → name), as the
    # modal showed them: the confirmation names them even if the catalog has moved on since.
    triage_names: dict[str, str] = {}


def rich_text_is_empty(block: dict[str, Any] | None) -> bool:
    return block is None or not rich_text_to_plain_text(block, NO_NAMES).strip()


def _email_problem(email: str) -> str | None:
    if not email.strip():
        return "Enter the customer's email: Productlane files feedback under a contact."
    try:
        validate_email(email.strip())
    except (PydanticCustomError, ValueError):
        return f"“{email.strip()[:80]}” isn't a valid email address. Use one like jane@customer.com."
    return None


def validate_form(form: FeedbackForm, *, has_source: bool) -> dict[Field, str]:
    """Every problem with the form, on the field it belongs to. Empty when it can be sent."""
    problems: dict[Field, str] = {}
    if len(form.title.strip()) > TITLE_MAX:
        problems[Field.TITLE] = f"Keep the title to {TITLE_MAX} characters; it has {len(form.title.strip())}."
    if not has_source and rich_text_is_empty(form.feedback):
        problems[Field.FEEDBACK] = "Write the feedback you want to send."
    email_problem = _email_problem(form.contact_email)
    if email_problem:
        problems[Field.CONTACT_EMAIL] = email_problem
    return problems


PAIN_LABELS: dict[PainLevel, str] = {
    PainLevel.UNKNOWN: "Unknown",
    PainLevel.LOW: "Low",
    PainLevel.MEDIUM: "Medium",
    PainLevel.HIGH: "High",
}
"""How each pain level is named to people, everywhere the bot shows one."""


class Person(Protocol):
    """What a contact is taken from: a Slack user as the lookups know them."""

    @property
    def name(self) -> str: ...

    @property
    def real_name(self) -> str | None: ...

    @property
    def email(self) -> str | None: ...


@dataclass(frozen=True)
class FormDefaults:
    pain_level: PainLevel
    notify_slack: bool
    notify_email: bool

    def blank_form(self, **values: Any) -> FeedbackForm:
        return FeedbackForm(
            pain_level=self.pain_level,
            notify_slack=self.notify_slack,
            notify_email=self.notify_email,
            **values,
        )


def with_author_contact(form: FeedbackForm, author: Person | None) -> FeedbackForm:
    """The message's author as the contact, where the form has none yet."""
    if author is None:
        return form
    return form.model_copy(
        update={
            "contact_email": form.contact_email or author.email or "",
            "contact_name": form.contact_name or author.real_name or author.name,
        }
    )

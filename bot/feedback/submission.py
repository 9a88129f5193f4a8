"""A feedback modal's life: the draft it was opened with, and the submission it becomes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage


class Draft(BaseModel):
    """What a modal was opened on. Kept by the bot, so private_metadata only holds `draft_id`."""

    model_config = ConfigDict(frozen=True)

    draft_id: str
    submitter_id: str
    source: SourceMessage | None = None
    # Where /feedback was typed: the confirmation goes there, to the submitter only.
    confirm_channel_id: str | None = None
    # Opened by "Edit and resend" on this outbox item: sending the modal supersedes that item.
    replaces_item_id: str | None = None
    # Opened by "Edit details" on the thread this outbox item created: sending the modal changes
    # that thread (title, pain level); `form` is what was sent, the rest of it stays.
    edits_item_id: str | None = None
    form: FeedbackForm | None = None


class Submission(BaseModel):
    """An accepted modal: everything needed to create the thread and tell people about it."""

    model_config = ConfigDict(frozen=True)

    # The view id and hash: Slack retrying the same submission yields the same key.
    key: str
    submitter_id: str
    form: FeedbackForm
    source: SourceMessage | None = None
    confirm_channel_id: str | None = None
    submitted_at: datetime
    # The outbox item this one is an edited copy of ("Edit and resend"); that one is never sent.
    replaces_item_id: str | None = None
    # Filed by an emoji reaction: the confirmation offers "Edit details" (it was filed with the defaults).
    via_reaction: bool = False
    # Captured automatically, a channel's new message: nobody filed it by hand, the author
    # is the submitter; the contact is looked up in delivery (bot/automatic/capture.py).
    via_automatic: bool = False
    # A change to the thread that outbox item created ("Edit details"), not a new thread.
    edits_item_id: str | None = None
    # The triage fields "Edit details" changed (company_id, link, tag_ids, assignee_id): only
    # these are sent, so a field nobody touched is never overwritten in Productlane.
    edited_fields: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        """A short id shown in the thread: it tells this submission's thread from any other's."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:10]


def reaction_key(channel_id: str, ts: str) -> str:
    """One message, one thread: every reaction to it (and Slack's retries) files under this key."""
    return f"reaction:{channel_id}:{ts}"


def edit_key(item_id: str, view_key: str) -> str:
    """An "Edit details" change to the thread outbox item ``item_id`` created."""
    return f"edit:{item_id}:{view_key}"


@dataclass(frozen=True)
class Filed:
    """What came of filing a message by reaction."""

    created: bool  # False: it was filed already (another reaction, or Slack retrying the event)
    submitter_id: str | None = None  # who filed it first
    thread_url: str | None = None  # once its thread exists


@dataclass(frozen=True)
class EditTarget:
    """What "Edit details" opens on: the item whose thread changes, and what it now says."""

    item_id: str
    form: FeedbackForm
    source: SourceMessage | None


class DraftStore(Protocol):
    def put(self, draft: Draft) -> None: ...

    def get(self, draft_id: str) -> Draft | None: ...

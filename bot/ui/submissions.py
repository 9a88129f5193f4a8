"""A view_submission → a Submission ready for the outbox, or the errors to show on the modal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.feedback.form import Field, validate_form
from bot.feedback.submission import DraftStore, Submission, edit_key
from bot.productlane.models import PainLevel
from bot.triage.delivery import edited_fields
from bot.triage.service import Triage
from bot.ui.views import errors_response, form_from_state

EXPIRED = (
    "This form has expired (the bot was restarted). Copy what you wrote, close it and use the shortcut again."
)


def read_submission(
    view: Mapping[str, Any],
    user_id: str,
    drafts: DraftStore,
    *,
    default_pain: PainLevel,
    triage: Triage | None = None,
) -> Submission | dict[str, str]:
    draft = drafts.get(str(view.get("private_metadata") or ""))
    if draft is None:
        return errors_response({Field.TITLE: EXPIRED}, view)
    values = (view.get("state") or {}).get("values") or {}
    form = form_from_state(values, default_pain=default_pain)
    if draft.edits_item_id and draft.form is not None:
        # "Edit details" shows the title, pain level and triage fields; the rest is what was sent.
        edited = draft.form.model_copy(update={"title": form.title, "pain_level": form.pain_level})
        if triage is not None:
            edited = triage.read(values, edited, None)
        problems = validate_form(edited, has_source=draft.source is not None)
        if problems:
            return errors_response(problems, view)
        return Submission(
            key=edit_key(draft.edits_item_id, f"{view.get('id')}:{view.get('hash')}"),
            submitter_id=user_id,
            form=edited,
            source=draft.source,
            submitted_at=datetime.now(UTC),
            edits_item_id=draft.edits_item_id,
            edited_fields=edited_fields(draft.form, edited),
        )
    if triage is not None:
        channel_id = draft.source.channel_id if draft.source else draft.confirm_channel_id
        form = triage.read(values, form, channel_id)
    problems = validate_form(form, has_source=draft.source is not None)
    if problems:
        return errors_response(problems, view)
    return Submission(
        key=f"{view.get('id')}:{view.get('hash')}",
        submitter_id=user_id,
        form=form,
        source=draft.source,
        confirm_channel_id=draft.confirm_channel_id,
        submitted_at=datetime.now(UTC),
        replaces_item_id=draft.replaces_item_id,
    )

"""A channel's defaults in the feedback it files: its company, pain level and tags."""

from __future__ import annotations

from typing import Any

from bot.channels.model import ChannelSettings
from bot.feedback.form import FeedbackForm


def with_channel_defaults(form: FeedbackForm, settings: ChannelSettings | None) -> FeedbackForm:
    """``form`` with the channel's defaults where it has none of its own: the company when none is
    chosen, the pain level (a form always has one, so the channel's replaces the workspace default
    it was opened with), and the channel's tags added to the form's."""
    if settings is None:
        return form
    update: dict[str, Any] = {}
    if settings.company_id and not form.company_id:
        update["company_id"] = settings.company_id
    if settings.pain_level is not None:
        update["pain_level"] = settings.pain_level
    if settings.tag_ids:
        update["tag_ids"] = tuple(dict.fromkeys((*form.tag_ids, *settings.tag_ids)))
    return form.model_copy(update=update) if update else form

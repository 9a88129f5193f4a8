"""What the confirmation says about a delivered submission: its title, pain level and contact, and
the triage the thread got (the company, the linked issue or project, the tags) — never the contact
or triage in a Slack Connect channel, where the customer reads the reply: a thread filed from one,
or a channel that is shared (or that Slack would not describe) when the reply is posted or edited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.feedback.form import PAIN_LABELS, FeedbackForm
from bot.feedback.submission import Submission
from bot.productlane.models import CreateThread, ThreadOrigin
from bot.slack.blocks import clip_line
from bot.slack.replies import Confirmation

__all__ = ["TriageSummary", "confirmation_for", "for_the_customer", "triage_summary"]

NAME_MAX = 80
TAGS_SHOWN = 5


@dataclass(frozen=True)
class TriageSummary:
    parts: tuple[str, ...]  # e.g. ("Company: Acme", "Linked to: CSV export stalls", "Tags: a, b")
    linked: str | None  # the linked issue's or project's name, as shown (None: none, or unnamed)


def triage_summary(form: FeedbackForm) -> TriageSummary:
    """Plain text (the reply escapes it). An id the bot has no name for: the company is left out,
    a link says what it links to, tags are counted."""
    names = form.triage_names
    parts: list[str] = []
    company = names.get(form.company_id) if form.company_id else None
    if company:
        parts.append(f"Company: {clip_line(company, NAME_MAX)}")
    linked: str | None = None
    target = form.issue_id or form.project_id
    if target:
        linked = names.get(target)
        parts.append(
            f"Linked to: {clip_line(linked, NAME_MAX)}"
            if linked
            else f"Linked to {'an issue' if form.issue_id else 'a project'}"
        )
    if form.tag_ids:
        named = [clip_line(names[tag], NAME_MAX) for tag in form.tag_ids if tag in names]
        if len(named) == len(form.tag_ids):
            shown = named[:TAGS_SHOWN]
            more = len(named) - len(shown)
            parts.append("Tags: " + ", ".join(shown) + (f" and {more} more" if more else ""))
        else:
            parts.append(f"{len(form.tag_ids)} tag{'s' if len(form.tag_ids) != 1 else ''}")
    return TriageSummary(tuple(parts), linked)


def _contact(request: CreateThread) -> str:
    email = str(request.contact_email)
    return f"{request.contact_name} <{email}>" if request.contact_name else email


def for_the_customer(confirmation: Confirmation) -> Confirmation:
    """The confirmation as someone of another organization may read it: without the contact's
    details and the triage (company, linked issue or project, tags). Pure."""
    return replace(confirmation, contact=None, triage=(), linked=None)


def confirmation_for(
    submission: Submission,
    request: CreateThread,
    thread_url: str,
    notes: Sequence[str] = (),
    *,
    edited_by: str | None = None,
    in_shared_channel: bool = False,
) -> Confirmation:
    """What the confirmation reply says about a delivered submission: the one place for its rules,
    whether it is posted, refreshed after an edit, or rendered again with a status.

    ``in_shared_channel``: where it goes now is shared with another organization, or Slack would
    not say (the caller asked just before posting)."""
    triage = triage_summary(submission.form)
    full = Confirmation(
        thread_url=thread_url,
        title=request.title or "",
        pain_label=PAIN_LABELS[request.pain_level],
        contact=_contact(request),
        submitter_id=submission.submitter_id,
        notes=tuple(notes),
        edit_value=submission.key if submission.via_reaction else None,
        edited_by=edited_by,
        triage=triage.parts,
        linked=triage.linked,
    )
    # In a Slack Connect channel the customer reads the thread: keep internal names and their
    # details out.
    if in_shared_channel or request.origin is ThreadOrigin.slack_connect:
        return for_the_customer(full)
    return full

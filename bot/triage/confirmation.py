"""What the confirmation says about triage (issue #14): the company, the linked issue or project
and the tags the thread got — never in a Slack Connect channel, where the customer reads the reply
(the caller decides, by the same rule as for the contact)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.feedback.form import FeedbackForm

__all__ = ["TriageSummary", "triage_summary"]

NAME_MAX = 80
TAGS_SHOWN = 5


def _short(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 1] + "…"


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
        parts.append(f"Company: {_short(company)}")
    linked: str | None = None
    target = form.issue_id or form.project_id
    if target:
        linked = names.get(target)
        parts.append(
            f"Linked to: {_short(linked)}"
            if linked
            else f"Linked to {'an issue' if form.issue_id else 'a project'}"
        )
    if form.tag_ids:
        named = [_short(names[tag]) for tag in form.tag_ids if tag in names]
        if len(named) == len(form.tag_ids):
            shown = named[:TAGS_SHOWN]
            more = len(named) - len(shown)
            parts.append("Tags: " + ", ".join(shown) + (f" and {more} more" if more else ""))
        else:
            parts.append(f"{len(form.tag_ids)} tag{'s' if len(form.tag_ids) != 1 else ''}")
    return TriageSummary(tuple(parts), linked)

"""Answers to Slack's options requests (`block_suggestion`) for the triage selects, from the
catalog in memory: no database, no Productlane, whatever the catalog holds right now (an empty one
answers at once with no options)."""

from __future__ import annotations

from typing import Any

from bot.catalog import Catalog, Entry, Kind
from bot.slack.blocks import OPTIONS_MAX
from bot.slack.ids import ASSIGNEE_SELECT, COMPANY_SELECT, LINK_SELECT, TAGS_SELECT
from bot.triage.choices import ISSUE_PREFIX, PROJECT_PREFIX, entry_option

__all__ = ["SELECT_KINDS", "suggestions"]

# Which list each select offers.
SELECT_KINDS: dict[str, tuple[Kind, ...]] = {
    COMPANY_SELECT: (Kind.COMPANIES,),
    LINK_SELECT: (Kind.ISSUES, Kind.PROJECTS),
    TAGS_SELECT: (Kind.TAGS,),
    ASSIGNEE_SELECT: (Kind.MEMBERS,),
}
CLOSED_SUFFIX = " (done)"
YOU_SUFFIX = " (you)"


def _options(entries: list[Entry], prefix: str = "") -> list[dict[str, Any]]:
    found = (entry_option(entry, prefix, CLOSED_SUFFIX if entry.closed else "") for entry in entries)
    return [option for option in found if option is not None]


def suggestions(
    catalog: Catalog, action_id: str, query: str, submitter_email: str | None = None
) -> dict[str, Any]:
    """The ack payload for a block_suggestion: ``{"options": [...]}``, or for "Link to"
    ``{"option_groups": [Issues, Projects]}`` (empty groups left out)."""
    if action_id == LINK_SELECT:
        groups = _link_groups(catalog, query)
        return {"option_groups": groups} if groups else {"options": []}
    kinds = SELECT_KINDS.get(action_id)
    index = catalog.index(kinds[0]) if kinds else None
    if index is None:
        return {"options": []}
    if action_id != ASSIGNEE_SELECT:
        return {"options": _options(index.search(query, OPTIONS_MAX))}
    found = index.search(query, OPTIONS_MAX)
    # The submitter first, when their Slack email is a member's and they match what was typed.
    you = catalog.member_for_email(submitter_email) if submitter_email else None
    options = _options([entry for entry in found if you is None or entry.id != you.id])
    if you is not None and (not query.strip() or any(entry.id == you.id for entry in found)):
        mine = entry_option(you, suffix=YOU_SUFFIX)
        if mine is not None:
            options = [mine, *options][:OPTIONS_MAX]
    return {"options": options}


def _link_groups(catalog: Catalog, query: str) -> list[dict[str, Any]]:
    """Issues and projects, at most 100 options together: each group gets half, and what one does
    not use goes to the other."""
    issues_index, projects_index = catalog.index(Kind.ISSUES), catalog.index(Kind.PROJECTS)
    issues = issues_index.search(query, OPTIONS_MAX) if issues_index else []
    projects = projects_index.search(query, OPTIONS_MAX) if projects_index else []
    half = OPTIONS_MAX // 2
    issue_room = max(half, OPTIONS_MAX - len(projects))
    issues = issues[:issue_room]
    projects = projects[: OPTIONS_MAX - len(issues)]
    groups = []
    for label, entries, prefix in (("Issues", issues, ISSUE_PREFIX), ("Projects", projects, PROJECT_PREFIX)):
        options = _options(entries, prefix)
        if options:
            groups.append({"label": {"type": "plain_text", "text": label}, "options": options})
    return groups

"""How a triage choice travels through Slack: an option's value and text, and the one "Link to"
select that holds an issue or a project. Block Kit's limits on options: `bot.slack.blocks`.
"""

from __future__ import annotations

from typing import Any

from bot.catalog.entries import Entry
from bot.slack.blocks import OPTION_TEXT_MAX, OPTION_VALUE_MAX, clip_line, option_json

ISSUE_PREFIX = "issue:"
PROJECT_PREFIX = "project:"


def entry_option(entry: Entry, prefix: str = "", suffix: str = "") -> dict[str, Any] | None:
    value = prefix + entry.id
    if len(value) > OPTION_VALUE_MAX:
        return None
    label = clip_line(entry.name, OPTION_TEXT_MAX - len(suffix)) + suffix
    return option_json(label, value)


def link_value(issue_id: str | None, project_id: str | None) -> str | None:
    """The "Link to" select's value for a form's issue or project."""
    if issue_id:
        return ISSUE_PREFIX + issue_id
    if project_id:
        return PROJECT_PREFIX + project_id
    return None


def parse_link(value: str | None) -> tuple[str | None, str | None]:
    """``issue:<id>`` → (id, None); ``project:<id>`` → (None, id); anything else → (None, None)."""
    if not value:
        return None, None
    if value.startswith(ISSUE_PREFIX) and len(value) > len(ISSUE_PREFIX):
        return value[len(ISSUE_PREFIX) :], None
    if value.startswith(PROJECT_PREFIX) and len(value) > len(PROJECT_PREFIX):
        return None, value[len(PROJECT_PREFIX) :]
    return None, None

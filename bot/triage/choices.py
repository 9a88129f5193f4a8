"""How a triage choice travels through Slack: an option's value and text, and the one "Link to"
select that holds an issue or a project.

Block Kit limits (https://docs.slack.dev/reference/block-kit/composition-objects/option-object):
an option's text holds at most 75 characters and its value 150; a menu at most 100 options.
"""

from __future__ import annotations

from typing import Any

from bot.catalog.entries import Entry

OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100

ISSUE_PREFIX = "issue:"
PROJECT_PREFIX = "project:"


def clip(text: str, limit: int = OPTION_TEXT_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def option(text: str, value: str) -> dict[str, Any]:
    """An option object as Slack takes it (plain dicts: a menu of 100 is built per keystroke)."""
    return {"text": {"type": "plain_text", "text": clip(text) or value[:OPTION_TEXT_MAX]}, "value": value}


def entry_option(entry: Entry, prefix: str = "", suffix: str = "") -> dict[str, Any] | None:
    value = prefix + entry.id
    if len(value) > OPTION_VALUE_MAX:
        return None
    label = clip(entry.name, OPTION_TEXT_MAX - len(suffix)) + suffix
    return option(label, value)


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

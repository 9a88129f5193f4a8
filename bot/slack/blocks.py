"""Block Kit pieces more than one surface builds: text cut to a limit, and an option object.

Limits (https://docs.slack.dev/reference/block-kit/composition-objects/option-object): an option's
text and description hold at most 75 characters, its value 150; a menu at most 100 options.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Option, PlainTextObject

__all__ = [
    "OPTIONS_MAX",
    "OPTION_TEXT_MAX",
    "OPTION_VALUE_MAX",
    "clip",
    "clip_line",
    "option",
    "option_json",
]

OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100


def clip(text: str, limit: int) -> str:
    """``text`` as written, line breaks kept (a preview, a notice), cut to ``limit`` characters with
    "…" when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clip_line(text: str, limit: int = OPTION_TEXT_MAX) -> str:
    """``text`` on one line, every run of white space (line breaks too) one space, then clipped: for
    a name or a label, where a line break has no place."""
    return clip(" ".join(text.split()), limit)


def _option_text(text: str, value: str) -> str:
    # Slack refuses an option without text: a label that is only white space shows its value.
    return clip_line(text) or value[:OPTION_TEXT_MAX]


def option(text: str, value: str, description: str | None = None) -> Option:
    """An option for a select, radio buttons or checkboxes, its text and description on one line
    within Slack's 75 characters."""
    return Option(
        text=PlainTextObject(text=_option_text(text, value)),
        value=value,
        description=PlainTextObject(text=clip_line(description)) if description else None,
    )


def option_json(text: str, value: str) -> dict[str, Any]:
    """The same option as `option`, as the plain dict Slack takes in an options response (a menu of
    100 is built per keystroke: no Block Kit model)."""
    return {"text": {"type": "plain_text", "text": _option_text(text, value)}, "value": value}

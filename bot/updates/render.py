"""What the bot says in Slack about a thread's life in Productlane. Pure: Block Kit in, nothing sent.

In a Slack Connect channel the customer reads the thread: no internal names there (issue and
project titles, assignees, comments) — only "Done" and "Shipped". The same rule as for the
contact details in the confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot.slack.replies import Confirmation, SlackReply, confirmation_reply, mrkdwn_escape
from bot.updates.state import Link, Status

__all__ = ["DONE_TEXT", "confirmation_with_status", "linked_line", "shipped_text", "status_line"]

DONE_TEXT = "✅ Marked done in Productlane"
NAME_MAX = 150

_STATUS_WORDS = {
    Status.OPEN: "Open",
    Status.SNOOZED: "Snoozed",
    Status.DONE: "Done",
}


def _name(name: str) -> str:
    name = " ".join(name.split())
    return mrkdwn_escape(name if len(name) <= NAME_MAX else name[: NAME_MAX - 1] + "…")


def status_line(status: Status) -> str:
    if status is Status.REMOVED:
        return "Removed from Productlane"
    return f"Status in Productlane: {_STATUS_WORDS[status]}"


def linked_line(links: Sequence[Link], is_slack_connect: bool, shown: str | None = None) -> str | None:
    """ "Linked to <names>" for the live links; None in Slack Connect or without links. ``shown``:
    the link the confirmation names already (chosen in the modal), not named twice."""
    live = [link for link in links if not link.removed and not (shown and link.name == shown)]
    if is_slack_connect or not live:
        return None
    names: list[str] = []
    for link in live:
        # Without issues:read / projects:read there is no name: say what kind of thing it is.
        label = _name(link.name) if link.name else ("an issue" if link.issue_id else "a project")
        if link.completed:
            label += " (shipped)"
        if label not in names:
            names.append(label)
    return "Linked to " + ", ".join(names)


def confirmation_with_status(
    confirmation: Confirmation, status: Status, links: Sequence[Link], is_slack_connect: bool
) -> SlackReply:
    """The confirmation reply as first posted, with a line for its current state in Productlane."""
    base = confirmation_reply(confirmation)
    parts = [status_line(status)]
    linked = linked_line(links, is_slack_connect, confirmation.linked)
    if linked:
        parts.append(linked)
    line = " · ".join(parts)[:1900]
    return SlackReply(
        text=base.text, blocks=[*base.blocks, ContextBlock(elements=[MarkdownTextObject(text=line)])]
    )


def shipped_text(name: str | None, is_slack_connect: bool) -> str:
    if is_slack_connect or not name:
        return "🚀 Shipped"
    return f"🚀 Shipped: {_name(name)}"

"""What the bot says in Slack about a thread's life in Productlane. Pure: Block Kit in, nothing sent.

In a Slack Connect channel the customer reads the thread: no internal names there (issue and
project titles, assignees, comments) — only "Done" and "Shipped". The same rule as for the
contact details in the confirmation. The team's replies to the customer are meant for them, and go
there as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot.render.document import safe_url
from bot.slack.replies import Confirmation, SlackReply, confirmation_reply, mrkdwn_escape
from bot.updates.state import Link, Status

__all__ = [
    "DONE_TEXT",
    "confirmation_with_status",
    "linked_line",
    "shipped_text",
    "status_line",
    "team_reply_text",
]

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


# A reply's words in Slack: Slack takes 40,000 characters but folds anything past ~4,000 away.
REPLY_MAX = 3500
ATTACHMENT_NAME_MAX = 100


def team_reply_text(author: str | None, html: str, attachments: Sequence[tuple[str, str]] = ()) -> str:
    """ "*Anna* (via Productlane): …" — the reply as mrkdwn, its files as links. Empty when the
    reply holds nothing to show."""
    # Imported on the first reply: a bot without webhooks never needs the HTML parser.
    from bot.render.html_to_mrkdwn import convert_html

    # Only the beginning of a long reply's HTML is read (what Slack shows of it, and more).
    converted = convert_html(html)
    body = converted.text
    if len(body) > REPLY_MAX or converted.cut:
        # Cut here, the last word may be a part of one; the converter's cut keeps words whole.
        kept = body[:REPLY_MAX].rsplit(" ", 1)[0] if len(body) > REPLY_MAX else body
        body = f"{kept.rstrip()} … _(the rest is in Productlane)_".lstrip()
    files = [_file_link(url, name) for url, name in attachments]
    lines = [body] if body else []
    lines += [link for link in files if link]
    if not lines:
        return ""
    who = f"*{_name(author)}*" if author and author.strip() else "*The team*"
    said = "\n".join(lines)
    joiner = "\n" if "\n" in said or len(said) > 80 else " "
    return f"{who} (via Productlane):{joiner}{said}"


def _file_link(url: str, name: str) -> str:
    target = safe_url(url)
    if target is None or not target.lower().startswith(("http://", "https://")):
        return ""
    label = mrkdwn_escape(" ".join(name.split())[:ATTACHMENT_NAME_MAX]).replace("|", "¦") or "attachment"
    return f"📎 <{target.replace('&', '&amp;').replace('|', '%7C').replace('>', '%3E')}|{label}>"

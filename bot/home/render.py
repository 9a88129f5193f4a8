"""The Home tab in Block Kit. Pure: what to show in, a `View` out, built with slack_sdk's models so
every Block Kit limit (100 blocks, text lengths, fields) is checked before Slack sees it.

A submission takes two blocks (its title and where it stands; where and when it came from), so the
20 listed, the admins' part and the frame stay far below 100 blocks whatever is stored. Everything
that came from people (titles, Productlane's refusals, names) is escaped: Slack text is data here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.channels.model import ChannelSettings
from bot.feedback.form import PAIN_LABELS
from bot.home.model import AdminFacts, HeldGroup, HomeSubmission, Refused, Sent, Waiting, WaitReason
from bot.slack.ids import (
    EDIT_AND_RESEND_ACTION,
    HOME_DROP_HELD_ACTION,
    HOME_FILE_HELD_ACTION,
    HOME_NEW_FEEDBACK_ACTION,
    HOME_VIEW,
)
from bot.slack.replies import mrkdwn_escape
from bot.updates.render import linked_line, status_line

__all__ = [
    "HELD_SHOWN",
    "WRITES_PER_MINUTE",
    "channel_line",
    "duration",
    "held_value",
    "home_view",
    "outsider_view",
    "parse_held_value",
    "unavailable_view",
]

TITLE_MAX = 150
SECTION_MAX = 2900  # a section's text may hold 3,000 characters
FIELD_MAX = 1900  # a field's, 2,000
PROBLEM_MAX = 500
# Held channels listed (two blocks each): with 20 submissions the Home stays well under 100 blocks.
HELD_SHOWN = 10
# The queue moves at the bot's share of Productlane's write budget (PRODUCTLANE_WRITES_PER_MINUTE).
WRITES_PER_MINUTE = 60


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str, label: str) -> str:
    # A label may not hold "|" or ">" inside <url|label>; the URL is ours (the template + an id).
    return f"<{url}|{mrkdwn_escape(label).replace('|', '¦')}>" if url else mrkdwn_escape(label)


def _date(at: datetime) -> str:
    """A time every reader sees in their own time zone (the fallback is UTC)."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def _time(at: datetime) -> str:
    return f"<!date^{int(at.timestamp())}^{{time}}|{at:%H:%M} UTC>"


def duration(seconds: float) -> str:
    """How long, in the largest unit that says it: "45 s", "12 min", "3 h 5 min", "2 days"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days = seconds // 86_400
    return f"{days} day" + ("s" if days != 1 else "")


def _where(channel_id: str | None) -> str:
    if not channel_id:
        return "no channel (a shortcut or the Home)"
    if channel_id.startswith("D"):
        return "a direct message"
    return f"<#{mrkdwn_escape(channel_id)}>"


def _waiting_line(waiting: Waiting, writes_per_minute: int) -> str:
    prefix = ":hourglass_flowing_sand: *Waiting*: "
    if waiting.reason is WaitReason.PAUSED:
        return (
            prefix + "delivery is paused until whoever runs the bot fixes its Productlane key; "
            "it is sent by itself then."
        )
    if waiting.reason is WaitReason.SENDING:
        return prefix + "being sent now."
    if waiting.reason is WaitReason.UNREACHABLE:
        again = f" at {_time(waiting.retry_at)}" if waiting.retry_at else ""
        return prefix + f"Productlane isn't answering; it is tried again{again} by itself."
    if waiting.reason is WaitReason.SLACK:
        again = f" at {_time(waiting.retry_at)}" if waiting.retry_at else ""
        return prefix + f"Slack hasn't handed over the message's thread or files yet; tried again{again}."
    if waiting.ahead <= 0:
        return prefix + "next in line for Productlane."
    wait = math.ceil((waiting.ahead + 1) * 60 / writes_per_minute)
    others = "other" if waiting.ahead == 1 else "others"
    return (
        prefix + f"queued behind {waiting.ahead:,} {others} (about {duration(wait)}: Productlane takes "
        f"{writes_per_minute:,} a minute)."
    )


def _sent_line(sent: Sent) -> str:
    parts = [":white_check_mark: *Sent*"]
    if sent.status is not None:
        parts.append(status_line(sent.status))
    # The Home is only ever shown to people of the bot's own workspace: issue and project names
    # may show (in a Slack Connect channel's thread they do not).
    linked = linked_line(sent.links, is_slack_connect=False)
    if linked:
        parts.append(linked)
    if sent.confirming:
        parts.append("the confirmation in Slack is on its way")
    return " · ".join(parts)


def _submission_blocks(submission: HomeSubmission, writes_per_minute: int) -> list[Block]:
    state = submission.state
    title = _clip(" ".join(submission.title.split()), TITLE_MAX)
    accessory = None
    if isinstance(state, Sent):
        headline = f"*{_link(state.thread_url, title)}*"
        line = _sent_line(state)
    elif isinstance(state, Refused):
        headline = f"*{mrkdwn_escape(title)}*"
        problem = _clip(" ".join(state.problem.split()), PROBLEM_MAX)
        line = f":warning: *Refused by Productlane*: {mrkdwn_escape(problem)}"
        accessory = ButtonElement(
            text="Edit and resend", action_id=EDIT_AND_RESEND_ACTION, value=str(state.item_id)
        )
    else:
        headline = f"*{mrkdwn_escape(title)}*"
        line = _waiting_line(state, writes_per_minute)
    return [
        SectionBlock(
            block_id=f"item-{submission.item_id}",
            text=MarkdownTextObject(text=_clip(f"{headline}\n{line}", SECTION_MAX)),
            accessory=accessory,
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"From {_where(submission.channel_id)} · {_date(submission.submitted_at)}"
                )
            ]
        ),
    ]


def channel_line(settings: ChannelSettings) -> str:
    """One channel's settings in a line (mrkdwn), for the admins' part of the Home."""
    parts = [f"<#{mrkdwn_escape(settings.channel)}>"]
    if settings.capture is not None:
        parts.append(f"capture: {settings.capture.value}")
    if settings.confirm is not None:
        parts.append(f"confirm: {settings.confirm.value}")
    if settings.pain_level is not None:
        parts.append(f"pain level: {PAIN_LABELS[settings.pain_level]}")
    if settings.company_id:
        parts.append("a company set")
    if settings.tag_ids:
        parts.append(f"{len(settings.tag_ids)} tag" + ("s" if len(settings.tag_ids) != 1 else ""))
    if not settings.followups:
        parts.append("follow-ups off")
    if not settings.replies:
        parts.append("replies off")
    return " · ".join(parts)


def _lines_within(lines: Sequence[str], limit: int) -> str:
    """As many lines as fit in ``limit`` characters, and how many more there are."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        more = f"…and {len(lines) - index:,} more (`productlane-slack channels`)"
        if used + len(line) + 1 + len(more) > limit:
            shown.append(more)
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def held_value(group: HeldGroup) -> str:
    """What a File or Drop button carries: which channel's held items of which scope."""
    return f"{group.scope.value}:{group.channel_id}"


def parse_held_value(value: str) -> tuple[str, str] | None:
    """(scope, channel) from a button's value; None when it is not one of ours."""
    scope, _, channel = value.partition(":")
    return (scope, channel) if scope and channel else None


def _held_line(group: HeldGroup) -> str:
    noun = group.scope.noun if group.count != 1 else group.scope.noun.removesuffix("s")
    people = ", ".join(f"<@{mrkdwn_escape(author)}>" for author in group.authors)
    return (
        f"<#{mrkdwn_escape(group.channel_id)}>: *{group.count:,} {noun}* held, from {people} "
        f"(the first at {_date(group.oldest)}) — {mrkdwn_escape(_clip(group.reason, 200))}"
        + _not_filed_line(group)
    )


def _not_filed_line(group: HeldGroup) -> str:
    if not group.not_filed:
        return ""
    count = "it" if group.count == 1 else f"{group.not_filed:,} of them"
    why = mrkdwn_escape(_clip(group.not_filed_reason or "", 200))
    return f"\n:warning: *File* could not send {count}: {why}"


def _held_blocks(facts: AdminFacts) -> list[Block]:
    if not facts.held:
        return []
    blocks: list[Block] = [
        HeaderBlock(text="Held by the flood limits"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Over the limits per author or per channel an hour, so kept here and not sent "
                    "to Productlane. *File* sends a channel's held items the usual way (no limit "
                    f"applies); *Drop* deletes them. Held items older than {facts.retention_days:,} "
                    "days (OUTBOX_RETENTION_DAYS) are deleted by themselves."
                )
            ]
        ),
    ]
    for group in facts.held[:HELD_SHOWN]:
        value = held_value(group)
        blocks += [
            SectionBlock(text=MarkdownTextObject(text=_clip(_held_line(group), SECTION_MAX))),
            ActionsBlock(
                block_id=f"held-{value}"[:255],
                elements=[
                    ButtonElement(text="File", action_id=HOME_FILE_HELD_ACTION, value=value, style="primary"),
                    ButtonElement(
                        text="Drop",
                        action_id=HOME_DROP_HELD_ACTION,
                        value=value,
                        style="danger",
                        confirm=ConfirmObject(
                            title="Drop what is held?",
                            text=f"The {group.count:,} held {group.scope.noun} of this channel are deleted "
                            "and never sent to Productlane.",
                            confirm="Drop",
                            deny="Keep",
                        ),
                    ),
                ],
            ),
        ]
    shown = sum(group.count for group in facts.held[:HELD_SHOWN])
    if facts.held_total > shown:
        more = f"…and {facts.held_total - shown:,} more held in other channels: File or Drop these first."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks


def _admin_blocks(facts: AdminFacts) -> list[Block]:
    delivery = (
        f":warning: Paused: {mrkdwn_escape(_clip(facts.paused_reason, 1500))}"
        if facts.paused_reason
        else "Running"
    )
    oldest = duration(facts.oldest_waiting_seconds) if facts.waiting else "nothing waits"
    fields = [
        f"*Waiting*\n{facts.waiting:,}",
        f"*Failed* (refused for their content)\n{facts.failed:,}",
        f"*Oldest waiting*\n{oldest}",
        f"*Delivery*\n{delivery}",
        f"*Updates from Productlane*\n{mrkdwn_escape(facts.update_mode)}",
        f"*Held by the flood limits*\n{facts.held_total:,}",
    ]
    if facts.refused_followups:
        latest = (
            f"\nLatest: {mrkdwn_escape(facts.refused_followup_reason)}"
            if facts.refused_followup_reason
            else ""
        )
        fields.append(f"*Follow-ups refused* (kept, not in Productlane)\n{facts.refused_followups:,}{latest}")
    channels = "*Channels with settings*\n" + (
        _lines_within(facts.channels, SECTION_MAX - 40)
        if facts.channels
        else "None: every channel works as the bot's defaults say."
    )
    return [
        DividerBlock(),
        HeaderBlock(text="Delivery health"),
        SectionBlock(fields=[MarkdownTextObject(text=_clip(field, FIELD_MAX)) for field in fields]),
        SectionBlock(text=MarkdownTextObject(text=_clip(channels, SECTION_MAX))),
        *_held_blocks(facts),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Shown to workspace admins and owners and FEEDBACK_ADMINS. "
                    "`productlane-slack outbox` lists what waits; `/metrics` has the numbers over time."
                )
            ]
        ),
    ]


def home_view(
    submissions: Sequence[HomeSubmission],
    *,
    now: datetime,
    admin: AdminFacts | None = None,
    reaction: str = "",
    writes_per_minute: int = WRITES_PER_MINUTE,
) -> View:
    """A person's Home: their latest submissions (the reader gives at most 20), a New feedback
    button and, for admins, delivery health."""
    intro = "What you sent to Productlane, newest first, and where each stands."
    blocks: list[Block] = [
        HeaderBlock(text="Your feedback"),
        SectionBlock(
            block_id="intro",
            text=MarkdownTextObject(text=intro),
            accessory=ButtonElement(text="New feedback", action_id=HOME_NEW_FEEDBACK_ACTION, style="primary"),
        ),
        DividerBlock(),
    ]
    if not submissions:
        ways = "press *New feedback*, or use *Send to Productlane* on any message (its ⋮ menu)"
        if reaction:
            ways += f", or react to a message with :{reaction}:"
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"Nothing sent yet. To send feedback, {ways}."))
        )
    for submission in submissions[:20]:
        blocks += _submission_blocks(submission, writes_per_minute)
    if admin is not None:
        blocks += _admin_blocks(admin)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Updated {_date(now)}")]))
    return View(type="home", callback_id=HOME_VIEW, blocks=blocks)


def outsider_view(workspace_name: str | None) -> View:
    """For people of another organization (Slack Connect): the Home is the workspace's own."""
    whose = (
        f"the people of *{mrkdwn_escape(workspace_name)}*"
        if workspace_name
        else "this workspace's own people"
    )
    text = f"This Home is for {whose}: it lists what they sent to Productlane."
    return View(
        type="home",
        callback_id=HOME_VIEW,
        blocks=[SectionBlock(block_id="outsider", text=MarkdownTextObject(text=text))],
    )


def unavailable_view() -> View:
    """When the submissions cannot be read (the database is away): say so, never show old news."""
    text = ":warning: Your feedback can't be read just now. Open this tab again in a moment."
    return View(
        type="home",
        callback_id=HOME_VIEW,
        blocks=[SectionBlock(block_id="unavailable", text=MarkdownTextObject(text=text))],
    )

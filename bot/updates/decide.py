"""What a Productlane change means for a thread's Slack side. Pure: (state, change) → decision.

* The confirmation reply shows the thread's status and its links; it is edited only when what it
  shows changes.
* Milestones are posted once per thread, ever: the first time it is done ("✅"), the first time
  a linked issue or project is completed ("🚀"). A milestone whose post is turned off still
  counts as reached, so turning the post on later never announces an old milestone.
* Events come out of order: a snapshot older than the one behind the current status changes
  nothing. A thread deleted in Productlane stays "Removed".
* A team member's reply to the contact (``message.sent``) is posted in the Slack thread, once per
  message id — unless Productlane posted it there itself, it is an internal note, or the bot
  wrote it (no echo): see docs/conversation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bot.updates.events import (
    Change,
    LinkAdded,
    LinkRemoved,
    MessageSent,
    NeedLink,
    TargetCompleted,
    ThreadRemoved,
    ThreadSnapshot,
)
from bot.updates.render import DONE_TEXT, linked_line, shipped_text, team_reply_text
from bot.updates.state import Link, Status, ThreadState

__all__ = ["Decision", "EditConfirmation", "Effect", "PostMilestone", "PostReply", "Switches", "decide"]

Milestone = Literal["done", "shipped"]


@dataclass(frozen=True)
class Switches:
    """Which kinds of Slack update are on (settings UPDATES_*)."""

    edit_confirmation: bool = True
    post_done: bool = True
    post_shipped: bool = True
    post_replies: bool = True


@dataclass(frozen=True)
class EditConfirmation:
    """Render the confirmation reply from the thread's state at send time, and chat.update it."""

    thread_id: str


@dataclass(frozen=True)
class PostMilestone:
    """A short reply in the Slack thread (people get notified)."""

    thread_id: str
    milestone: Milestone
    text: str


@dataclass(frozen=True)
class PostReply:
    """A team member's reply, posted in the Slack thread once per Productlane message id."""

    thread_id: str
    message_id: str
    text: str
    to_customer: bool = False
    """Productlane said it went to the customer: only then may it go into a shared channel."""


Effect = EditConfirmation | PostMilestone | PostReply


@dataclass(frozen=True)
class Decision:
    state: ThreadState
    effects: tuple[Effect, ...] = ()
    note: str = "applied"


def decide(state: ThreadState, change: Change, switches: Switches) -> Decision:
    """The new state of one thread after ``change``, and what to do in Slack."""
    if state.status is Status.REMOVED:
        return Decision(state, note="the thread was removed from Productlane earlier")
    if isinstance(change, ThreadSnapshot):
        return _snapshot(state, change, switches)
    if isinstance(change, ThreadRemoved):
        removed = replace(state, status=Status.REMOVED, status_as_of=_latest(state, change.as_of))
        return _finish(state, removed, switches, "removed from Productlane")
    if isinstance(change, LinkAdded):
        return _link_added(state, change.need, switches)
    if isinstance(change, LinkRemoved):
        return _link_removed(state, change.need, switches)
    if isinstance(change, MessageSent):
        return _team_reply(state, change, switches)
    return _completed(state, change, switches)


def _team_reply(state: ThreadState, message: MessageSent, switches: Switches) -> Decision:
    """The team's reply goes to Slack — Slack Connect channels included when Productlane says it
    went to the customer (`EffectSender` checks the channel when it posts) — unless it would be
    said twice or was never meant for them."""
    if message.skip is not None:
        return Decision(state, note=message.skip)
    if message.internal:
        return Decision(state, note="an internal note: not for Slack")
    if message.relayed_to_slack:
        return Decision(state, note="Productlane posted it in Slack itself")
    if not switches.post_replies:
        return Decision(state, note="posting replies is off (UPDATES_POST_REPLIES)")
    text = team_reply_text(message.author, message.html, message.attachments)
    if not text:
        return Decision(state, note="an empty reply")
    reply = PostReply(state.thread_id, message.message_id, text, to_customer=message.to_customer)
    return Decision(state, (reply,), "the team's reply")


def _latest(state: ThreadState, as_of: datetime | None) -> datetime | None:
    return as_of if as_of is not None else state.status_as_of


def _shown(state: ThreadState) -> tuple[Status, str | None]:
    """What the confirmation reply shows of the state."""
    return state.status, linked_line(state.links, state.is_slack_connect)


def _finish(old: ThreadState, new: ThreadState, switches: Switches, note: str) -> Decision:
    effects: list[Effect] = []
    if switches.edit_confirmation and _shown(old) != _shown(new):
        effects.append(EditConfirmation(new.thread_id))
    if new.status is Status.DONE and not new.done_reached:
        new = replace(new, done_reached=True)
        if switches.post_done:
            effects.append(PostMilestone(new.thread_id, "done", DONE_TEXT))
    return Decision(new, tuple(effects), note)


def _snapshot(state: ThreadState, snapshot: ThreadSnapshot, switches: Switches) -> Decision:
    # Strictly older only: a snapshot of the same time is the same one again (it then changes
    # nothing), or one we cannot order (the later arrival wins).
    if snapshot.as_of is not None and state.status_as_of is not None and snapshot.as_of < state.status_as_of:
        return Decision(state, note="an older snapshot than the one already applied")
    status = Status(snapshot.status) if snapshot.status else state.status
    links = state.links
    for need in snapshot.needs or ():
        if not any(link.need_id == need.need_id for link in links):
            links = (*links, _link(need))
    new = replace(
        state,
        status=status,
        status_as_of=snapshot.as_of if snapshot.as_of is not None else state.status_as_of,
        links=links,
    )
    return _finish(state, new, switches, f"status {status.value}")


def _link(need: NeedLink, *, removed: bool = False) -> Link:
    return Link(
        need_id=need.need_id,
        issue_id=need.issue_id,
        project_id=need.project_id,
        issue_name=need.issue_name,
        project_name=need.project_name,
        removed=removed,
    )


def _link_added(state: ThreadState, need: NeedLink, switches: Switches) -> Decision:
    existing = next((link for link in state.links if link.need_id == need.need_id), None)
    if existing is None:
        links = (*state.links, _link(need))
    elif existing.removed:
        return Decision(state, note="the link was removed already")
    else:
        # Seen before (in a snapshot): the event may bring the names.
        named = replace(
            existing,
            issue_name=existing.issue_name or need.issue_name,
            project_name=existing.project_name or need.project_name,
        )
        links = tuple(named if link is existing else link for link in state.links)
    return _finish(state, replace(state, links=links), switches, "linked")


def _link_removed(state: ThreadState, need: NeedLink, switches: Switches) -> Decision:
    existing = next((link for link in state.links if link.need_id == need.need_id), None)
    if existing is None:
        # Removed before we saw it created: keep a tombstone so a late "created" stays out.
        links = (*state.links, _link(need, removed=True))
    elif existing.removed:
        return Decision(state, note="the link was removed already")
    else:
        links = tuple(replace(link, removed=True) if link is existing else link for link in state.links)
    return _finish(state, replace(state, links=links), switches, "unlinked")


def _completed(state: ThreadState, change: TargetCompleted, switches: Switches) -> Decision:
    matching = [
        link for link in state.links if not link.removed and link.targets(change.kind, change.target_id)
    ]
    if not matching:
        return Decision(state, note=f"not linked to this {change.kind}")

    def completed(link: Link) -> Link:
        if link not in matching:
            return link
        if change.kind == "issue":
            return replace(link, completed=True, issue_name=link.issue_name or change.name)
        return replace(link, completed=True, project_name=link.project_name or change.name)

    new = replace(state, links=tuple(completed(link) for link in state.links))
    decision = _finish(state, new, switches, f"{change.kind} completed")
    if state.shipped_reached:
        return decision
    first = completed(matching[0])
    name = (first.issue_name if change.kind == "issue" else first.project_name) or change.name
    effects = decision.effects
    if switches.post_shipped:
        text = shipped_text(name, state.is_slack_connect)
        effects = (*effects, PostMilestone(state.thread_id, "shipped", text))
    return Decision(replace(decision.state, shipped_reached=True), effects, decision.note)

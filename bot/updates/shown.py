"""What an update may say where it goes, decided when it is sent. Pure.

A channel may become a Slack Connect channel after the feedback from it was filed, and Slack may
not say whether it is one (a failed lookup). Either way the edit and the milestones are made as for
a shared channel: no contact details, no triage, no names of linked issues or projects — the same
rules as at the filing (`bot.triage.confirmation.for_the_customer`, `bot.updates.render`). That
form reveals nothing, so it goes out at once.

A team's reply Productlane did not say went to the customer is another matter: it has no redacted
form. It is dropped only where Slack said the channel is shared; where Slack did not answer, it
waits (`Withheld.WAIT`) and is tried again until Slack says the channel is internal — a passing
error must neither leak it nor lose it.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from bot.slack.lookups import Audience
from bot.slack.replies import Confirmation
from bot.triage.confirmation import for_the_customer
from bot.updates.records import REPLY_UNSURE, SlackSide, StoredEffect
from bot.updates.render import shipped_text
from bot.updates.state import Link, Status

__all__ = ["NOT_FOR_SHARED", "NOT_KNOWN_YET", "Withheld", "edit_as_shown", "post_as_shown"]

NOT_FOR_SHARED = (
    "not said to have gone to the customer: kept out of a channel shared with another organization"
)
NOT_KNOWN_YET = "waiting: Slack did not say whether the channel is shared"


class Withheld(Enum):
    """Not posted now: what becomes of the effect instead."""

    DROP = "drop"  # Slack said the channel is shared: the reply never goes there
    WAIT = "wait"  # Slack did not say: the reply is kept and tried again later


def edit_as_shown(side: SlackSide, audience: Audience) -> tuple[Confirmation, Status, Sequence[Link], bool]:
    """The arguments of `confirmation_with_status` for the confirmation's edit: as recorded in a
    channel known to be internal, as for the customer anywhere else (shared, or Slack did not say)."""
    if audience is Audience.INTERNAL:
        return side.confirmation, side.status, side.links, side.is_slack_connect
    return for_the_customer(side.confirmation), side.status, side.links, True


def post_as_shown(effect: StoredEffect, audience: Audience) -> str | Withheld:
    """The text to post for a milestone or a team's reply, or why it is not posted now."""
    if audience is Audience.INTERNAL:
        return effect.text or ""
    if effect.kind == REPLY_UNSURE:
        return Withheld.DROP if audience is Audience.SHARED else Withheld.WAIT
    if effect.effect_key.startswith("shipped:"):
        return shipped_text(None, is_slack_connect=True)  # the shipped issue's name stays inside
    return effect.text or ""

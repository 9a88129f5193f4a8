"""What an update may say where it goes, decided when it is sent. Pure.

A channel may become a Slack Connect channel after the feedback from it was filed, and Slack may
not say whether it is one (a failed lookup). Either way the post is made as for a shared channel:
no contact details, no triage, no names of linked issues or projects — the same rules as at the
filing (`bot.triage.confirmation.for_the_customer`, `bot.updates.render`). A team's reply goes into
such a channel only when Productlane said it went to the customer.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.replies import Confirmation
from bot.triage.confirmation import for_the_customer
from bot.updates.records import REPLY_UNSURE, SlackSide, StoredEffect
from bot.updates.render import shipped_text
from bot.updates.state import Link, Status

__all__ = ["NOT_FOR_SHARED", "edit_as_shown", "post_as_shown"]

NOT_FOR_SHARED = (
    "not said to have gone to the customer: kept out of a channel shared with another organization"
)


def edit_as_shown(side: SlackSide, *, internal: bool) -> tuple[Confirmation, Status, Sequence[Link], bool]:
    """The arguments of `confirmation_with_status` for the confirmation's edit: as recorded in a
    channel known to be internal, as for the customer anywhere else."""
    if internal:
        return side.confirmation, side.status, side.links, side.is_slack_connect
    return for_the_customer(side.confirmation), side.status, side.links, True


def post_as_shown(effect: StoredEffect, *, internal: bool) -> str | None:
    """The text to post for a milestone or a team's reply; None when it must not be posted there."""
    if internal:
        return effect.text or ""
    if effect.kind == REPLY_UNSURE:
        return None
    if effect.effect_key.startswith("shipped:"):
        return shipped_text(None, is_slack_connect=True)  # the shipped issue's name stays inside
    return effect.text or ""

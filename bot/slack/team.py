"""Who is one of ours: a person of the workspace the bot is installed in, or of the same Enterprise
Grid organization where the app is installed org-wide.

In a Slack Connect channel people of another organization press the same buttons and type in the
same selects as the team. The bot's internal data (companies, issues, tags, contacts, the outbox)
is for the team only, so every interactive request is asked `Teammates.is_teammate` first. Someone
Slack does not describe (a failed users.info, no team in the payload) is not one of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.slack.lookups import SlackLookups

__all__ = ["OUTSIDER_TEXT", "OwnTeam", "Teammates", "belongs"]

OUTSIDER_TEXT = (
    "Only people of this workspace can use Productlane feedback here. If you are one, Slack did not "
    "confirm it just now: please try again in a minute."
)


@dataclass(frozen=True)
class OwnTeam:
    """The workspace the bot is installed in (auth.test's team_id), and its Enterprise Grid
    organization when the app is installed for the whole organization (auth.test's enterprise_id)."""

    team_id: str | None
    enterprise_id: str | None = None


def belongs(team_id: str | None, enterprise_id: str | None, ours: OwnTeam) -> bool:
    """Whether a person of ``team_id`` (in the organization ``enterprise_id``) is one of ours. Pure.
    Unknown on either side is "no"."""
    if team_id and ours.team_id and team_id == ours.team_id:
        return True
    return bool(enterprise_id and ours.enterprise_id and enterprise_id == ours.enterprise_id)


class Teammates:
    """Answers "is this person one of ours?" from the request Slack signed, else from users.info."""

    def __init__(self, lookups: SlackLookups, ours: OwnTeam) -> None:
        self._lookups = lookups
        self.ours = ours

    def is_teammate(
        self, user_id: str, payload_user: Mapping[str, Any] | None = None, *, wait: bool = True
    ) -> bool:
        """``payload_user``: the request's ``user`` object, whose ``team_id`` is the person's own
        team (block actions, view submissions, options, shortcuts). ``wait=False`` on the ack path:
        only what is already cached is read, and an unknown person is refused."""
        if not user_id:
            return False
        team = (payload_user or {}).get("team_id")
        if isinstance(team, str) and belongs(team, None, self.ours):
            return True
        if isinstance(team, str) and team and not self.ours.enterprise_id:
            return False  # another team, and no organization that could make them ours
        lookups = self._lookups
        user = lookups.user(user_id) if wait else lookups.cached(lookups.users, user_id)
        return (
            user is not None and user.id == user_id and belongs(user.team_id, user.enterprise_id, self.ours)
        )

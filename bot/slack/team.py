"""Who is one of ours: a person of the workspace the bot is installed in, or of the same Enterprise
Grid organization where the app is installed org-wide.

In a Slack Connect channel people of another organization press the same buttons and type in the
same selects as the team. The bot's internal data (companies, issues, tags, contacts, the outbox)
is for the team only, so every interactive request is asked `Teammates.is_teammate` first. Someone
Slack does not describe (a failed users.info, no team in the payload) is not one of ours.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bot.slack.lookups import SlackLookups, SlackUser

__all__ = ["OUTSIDER_TEXT", "OwnTeam", "Standing", "Teammates", "belongs"]

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


class Standing(Enum):
    """Whether a person is one of ours, as far as can be told without waiting for Slack."""

    OURS = "ours"
    OUTSIDER = "outsider"  # Slack said so: another team, or another organization
    UNKNOWN = "unknown"  # not said yet (not cached, or Slack did not answer): not one of ours *now*


def _payload_enterprise(payload_user: Mapping[str, Any]) -> str | None:
    """The person's own organization, where the request's ``user`` object names it. Never the
    request's top-level ``enterprise``: that is the installation's organization, which a Slack
    Connect guest's request carries too."""
    grid = payload_user.get("enterprise_user")
    found = grid.get("enterprise_id") if isinstance(grid, Mapping) else payload_user.get("enterprise_id")
    return found if isinstance(found, str) and found else None


class Teammates:
    """Answers "is this person one of ours?" from the request Slack signed, else from users.info."""

    def __init__(self, lookups: SlackLookups, ours: OwnTeam) -> None:
        self._lookups = lookups
        self.ours = ours
        # Workspaces users.info placed in our organization: a sibling workspace's next person is
        # known to be ours from the request alone, with no lookup on the ack path.
        self._org_teams: set[str] = set()
        self._lock = threading.Lock()

    def standing(self, user_id: str, payload_user: Mapping[str, Any] | None = None) -> Standing:
        """Without waiting for Slack: from the request's ``user`` object (its ``team_id``, and its
        organization where Slack names it there), what users.info said of our organization's
        workspaces, and the cached users.info answer."""
        if not user_id:
            return Standing.OUTSIDER
        user = payload_user or {}
        team = user.get("team_id")
        team = team if isinstance(team, str) and team else None
        if belongs(team, _payload_enterprise(user), self.ours):
            return Standing.OURS
        if team is not None:
            if not self.ours.enterprise_id:
                return Standing.OUTSIDER  # another team, and no organization that could make them ours
            with self._lock:
                if team in self._org_teams:
                    return Standing.OURS
        found = self._lookups.cached(self._lookups.users, user_id)
        if found is None or found.id != user_id:
            return Standing.UNKNOWN
        return Standing.OURS if self._belongs(found) else Standing.OUTSIDER

    def _belongs(self, user: SlackUser) -> bool:
        ours = belongs(user.team_id, user.enterprise_id, self.ours)
        if ours and user.team_id and user.team_id != self.ours.team_id:
            with self._lock:
                self._org_teams.add(user.team_id)
        return ours

    def is_teammate(
        self, user_id: str, payload_user: Mapping[str, Any] | None = None, *, wait: bool = True
    ) -> bool:
        """``payload_user``: the request's ``user`` object, whose ``team_id`` is the person's own
        team (block actions, view submissions, options, shortcuts). ``wait=False`` on the ack path:
        only what is already cached is read, and an unknown person is refused."""
        standing = self.standing(user_id, payload_user)
        if standing is not Standing.UNKNOWN or not wait:
            return standing is Standing.OURS
        user = self._lookups.user(user_id)
        return user is not None and user.id == user_id and self._belongs(user)

    def look_up(self, user_id: str) -> Standing:
        """Ask Slack (users.info, cached as usual) who the person is: what `standing` says next."""
        user = self._lookups.user(user_id)
        if user is None or user.id != user_id:
            return Standing.UNKNOWN
        return Standing.OURS if self._belongs(user) else Standing.OUTSIDER

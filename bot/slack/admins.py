"""Who runs the bot in Slack: the workspace's admins and owners, and the people in FEEDBACK_ADMINS.
They may change a channel's settings, see delivery health in the App Home, file or drop what the
flood limits held, and hear when a channel goes over them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from bot.slack.lookups import SlackLookups
from bot.slack.team import OwnTeam, belongs

__all__ = ["AdminsToTell", "WorkspaceAdmins"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdminsToTell:
    people: tuple[str, ...]
    complete: bool = True
    """False: Slack would not list the workspace's admins now (users.list failed), so only the
    people in FEEDBACK_ADMINS are in ``people``; ask again later for the rest."""


class WorkspaceAdmins:
    def __init__(
        self,
        lookups: SlackLookups,
        feedback_admins: Iterable[str],
        workspace_team_id: str | None,
        enterprise_id: str | None = None,
    ):
        self._lookups = lookups
        self._named = frozenset(feedback_admins)
        self._ours = OwnTeam(workspace_team_id, enterprise_id)

    @property
    def has_named(self) -> bool:
        """Whether FEEDBACK_ADMINS names anyone (a refusal then says they may too)."""
        return bool(self._named)

    def is_admin(self, user_id: str) -> bool:
        """A workspace admin or owner of this workspace (users.info, cached), or named in
        FEEDBACK_ADMINS. Someone Slack won't describe is not an admin."""
        if user_id in self._named:
            return True
        user = self._lookups.user(user_id)
        if user is None or not user.is_admin:
            return False
        # An admin of the customer's workspace, in a Slack Connect channel, is not one of ours;
        # nor is one whose team Slack does not give.
        return belongs(user.team_id, user.enterprise_id, self._ours)

    def to_tell(self) -> AdminsToTell:
        """Who hears when the bot needs its admins: the people in FEEDBACK_ADMINS, and the
        workspace's own admins and owners (users.list; an admin of a Slack Connect customer's
        organization is not one of ours). When Slack will not list them now (users.list is tier 2:
        a 429 or 5xx in a big workspace), the named ones, marked incomplete: never nobody."""
        people = set(self._named)
        try:
            admins = self._lookups.people_who_admin()
        except Exception as error:
            log.warning("could not list the workspace's admins (users.list): %s", type(error).__name__)
            return AdminsToTell(tuple(sorted(people)), complete=False)
        for user in admins:
            if belongs(user.team_id, user.enterprise_id, self._ours):
                people.add(user.id)
        return AdminsToTell(tuple(sorted(people)))

    def who_can(self) -> str:
        """Who may, in words for the person who may not (mrkdwn)."""
        named = ", ".join(f"<@{user_id}>" for user_id in sorted(self._named))
        return "workspace admins and owners" + (f", and {named}" if named else "")

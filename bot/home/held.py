"""The admins' File and Drop buttons on what the flood limits held in a channel. Only an admin's
press does anything (the check is made again at the press: a Home published while they were one
does not keep the right). Filing hands each item to the feature it came from (automatic capture, or
follow-ups), which sends it the way it would have gone; dropping deletes it. Either way the
presser's Home is published again.

An item its feature cannot take (a reply whose thread is no longer followed: its FOLLOWUP_DAYS
window closed while it was held) is never deleted by File: it stays held, and the Home says why, so
the admin can file it by hand (the message shortcut) or drop it. Filing such a reply as a new
thread instead would put a stray reply, out of its conversation, among the team's feedback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bot.floods import FloodStore, HeldItem, Scope
from bot.home.render import parse_held_value
from bot.slack.admins import WorkspaceAdmins

__all__ = ["HeldActions", "HeldFiler"]

log = logging.getLogger(__name__)

HeldFiler = Callable[[HeldItem], str | None]
"""Sends one held item on the normal path: None when its feature has it now, else why it could not
take it (the item then stays held)."""


class HeldActions:
    def __init__(
        self,
        floods: FloodStore,
        admins: WorkspaceAdmins,
        filers: Mapping[Scope, HeldFiler],
        republish: Callable[[str], None],
    ) -> None:
        self._floods = floods
        self._admins = admins
        self._filers = dict(filers)
        self._republish = republish

    def file(self, user_id: str, value: str) -> int:
        """File what is held in the button's channel and scope; how many were handed on."""
        return self._act(user_id, value, file=True)

    def drop(self, user_id: str, value: str) -> int:
        """Delete what is held in the button's channel and scope; how many were deleted."""
        return self._act(user_id, value, file=False)

    def _act(self, user_id: str, value: str, *, file: bool) -> int:
        target = _target(value)
        if target is None or not self._admins.is_admin(user_id):
            log.info("%s pressed %s on held items, and may not (or the button is not ours)", user_id, value)
            return 0
        scope, channel_id = target
        items = self._floods.held_in(scope, channel_id)
        done = 0
        if file:
            filer = self._filers.get(scope)
            for item in items:
                why = "nothing here files it" if filer is None else filer(item)
                if why is None:
                    # It leaves the table only once its feature has it: a failure keeps the rest.
                    self._floods.remove([item.id])
                    done += 1
                else:
                    # Not sent: kept, with why, for the admins to see on the Home.
                    self._floods.not_filed(item.id, why)
                    log.warning("held %s %s/%s not filed: %s", scope.value, channel_id, item.ts, why)
        else:
            done = self._floods.drop(item.id for item in items)
        log.info(
            "%s %s %d held %s of %s", user_id, "filed" if file else "dropped", done, scope.noun, channel_id
        )
        self._republish(user_id)
        return done


def _target(value: str) -> tuple[Scope, str] | None:
    parsed = parse_held_value(value)
    if parsed is None:
        return None
    try:
        return Scope(parsed[0]), parsed[1]
    except ValueError:
        return None

"""Options for the triage selects: Slack asks as the person types (`block_suggestion`),
wherever the selects are — the feedback modal, "Edit details", a channel's settings. Answered in
the ack, from the catalog in memory: nothing on this path waits on Productlane or the database."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.listeners import Services
from bot.slack.ids import ASSIGNEE_SELECT, COMPANY_SELECT, LINK_SELECT, TAGS_SELECT
from bot.slack.lookups import SlackLookups
from bot.slack.team import Standing


def register(app: App, services: Services, lookups: SlackLookups | None = None) -> None:
    triage = services.triage

    def answer(ack: Ack, body: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        # The catalog (companies, issues, tags, people) is the team's: nothing for anyone else, nor
        # for someone not yet known (only what is cached is read here: the ack must not wait).
        standing = services.access.standing(user_id, body.get("user"))
        if triage is None or standing is not Standing.OURS:
            if triage is not None and standing is Standing.UNKNOWN:
                services.access.look_up_soon(user_id)  # the next keystroke finds them known
            ack(options=[])
            return
        # Only what is cached: the modal's fill-in looked the submitter up already.
        user = lookups.cached(lookups.users, user_id) if lookups is not None and user_id else None
        answer = triage.suggest(
            str(body.get("action_id") or ""), str(body.get("value") or ""), user.email if user else None
        )
        ack(**answer)

    for action_id in (COMPANY_SELECT, LINK_SELECT, TAGS_SELECT, ASSIGNEE_SELECT):
        app.options(action_id)(answer)

"""Events from Slack's Events API (socket mode or HTTP): `reaction_added`, an emoji that files a
message. Acked at once; reading the message and filing it happen afterwards."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners import Services, acknowledge
from bot.slack.ids import REACTION_EVENT


def register(app: App, services: Services) -> None:
    def file_by_reaction(body: dict[str, Any], event: dict[str, Any]) -> None:
        if services.reactions is not None:
            services.reactions.on_reaction(event, body.get("team_id"))

    app.event(REACTION_EVENT)(ack=acknowledge, lazy=[file_by_reaction])

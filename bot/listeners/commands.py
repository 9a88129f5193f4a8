"""`/feedback [text]`: the feedback modal, prefilled with the text."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners import Services, acknowledge
from bot.slack.ids import FEEDBACK_COMMAND


def register(app: App, services: Services) -> None:
    def open_modal(body: dict[str, Any]) -> None:
        services.modals.open_blank(
            body["trigger_id"],
            body["user_id"],
            text=body.get("text") or "",
            channel_id=body.get("channel_id"),
        )

    app.command(FEEDBACK_COMMAND)(ack=acknowledge, lazy=[open_modal])

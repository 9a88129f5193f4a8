"""The message shortcut ("Send to Productlane") and the global shortcut ("New feedback")."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.feedback.source import source_from_message_shortcut
from bot.listeners import Services, acknowledge
from bot.slack.ids import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT


def register(app: App, services: Services) -> None:
    def open_for_message(body: dict[str, Any]) -> None:
        if not services.access.is_teammate(body["user"]["id"], body.get("user")):
            services.access.refuse_in_modal(body["trigger_id"])
            return
        services.modals.open_for_message(
            body["trigger_id"], body["user"]["id"], source_from_message_shortcut(body)
        )

    def open_blank(body: dict[str, Any]) -> None:
        if not services.access.is_teammate(body["user"]["id"], body.get("user")):
            services.access.refuse_in_modal(body["trigger_id"])
            return
        services.modals.open_blank(body["trigger_id"], body["user"]["id"])

    app.shortcut(MESSAGE_SHORTCUT)(ack=acknowledge, lazy=[open_for_message])
    app.shortcut(GLOBAL_SHORTCUT)(ack=acknowledge, lazy=[open_blank])

"""The channel settings modal's submission (`/feedback settings`): checked and saved before
Slack's 3 seconds; joining a channel that now captures automatically happens after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.listeners import Services
from bot.slack.ids import CHANNEL_SETTINGS_MODAL


def register(app: App, services: Services) -> None:
    def save(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        if services.channel_settings is None:
            ack()
            return
        errors = services.channel_settings.save(view, body["user"]["id"])
        if errors:
            ack(response_action="errors", errors=errors)
        else:
            ack()

    def after_save(body: dict[str, Any], view: dict[str, Any]) -> None:
        if services.channel_settings is not None:
            services.channel_settings.after_save(view, body["user"]["id"])

    app.view_submission(CHANNEL_SETTINGS_MODAL)(ack=save, lazy=[after_save])

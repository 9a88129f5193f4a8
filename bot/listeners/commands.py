"""`/feedback [text]`: the feedback modal, prefilled with the text; `/feedback settings`: the channel's
settings (its company, tags, pain level and how feedback is captured and confirmed there)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond

from bot.listeners import Services, acknowledge
from bot.slack.ids import FEEDBACK_COMMAND
from bot.ui.access import OUTSIDER_TEXT
from bot.ui.channel_settings import is_settings_request


def register(app: App, services: Services) -> None:
    def open_modal(body: dict[str, Any], respond: Respond) -> None:
        # A command's team_id is the workspace's, not necessarily the person's: asked of Slack.
        if not services.access.is_teammate(str(body.get("user_id") or "")):
            respond(text=OUTSIDER_TEXT, response_type="ephemeral")
            return
        if services.channel_settings is not None and is_settings_request(body.get("text")):
            services.channel_settings.open(
                body["trigger_id"],
                body["user_id"],
                body.get("channel_id"),
                lambda text: respond(text=text, response_type="ephemeral"),
            )
            return
        services.modals.open_blank(
            body["trigger_id"],
            body["user_id"],
            text=body.get("text") or "",
            channel_id=body.get("channel_id"),
        )

    app.command(FEEDBACK_COMMAND)(ack=acknowledge, lazy=[open_modal])

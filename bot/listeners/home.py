"""The App Home tab: opening it publishes the person's Home; its New feedback button opens
the feedback modal, as /feedback does. ("Edit and resend" on a refused submission there is the same
button as in the refusal's DM: bot.listeners.actions answers it.) An admin's File and Drop buttons
on what the flood limits held go to `bot.home.held`."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners import Services, acknowledge
from bot.slack.ids import (
    HOME_DROP_HELD_ACTION,
    HOME_FILE_HELD_ACTION,
    HOME_NEW_FEEDBACK_ACTION,
    HOME_OPENED_EVENT,
)


def register(app: App, services: Services) -> None:
    def publish(event: dict[str, Any]) -> None:
        # The event also comes for the Messages tab, which shows the bot's DMs: nothing to publish.
        if services.home is not None and event.get("tab") == "home" and event.get("user"):
            services.home.opened(str(event["user"]))

    def new_feedback(body: dict[str, Any]) -> None:
        if not services.access.is_teammate(body["user"]["id"], body.get("user")):
            services.access.refuse_in_modal(body["trigger_id"])
            return
        services.modals.open_blank(body["trigger_id"], body["user"]["id"])

    def pressed(body: dict[str, Any]) -> tuple[str, str]:
        return str(body["user"]["id"]), str((body.get("actions") or [{}])[0].get("value") or "")

    def file_held(body: dict[str, Any]) -> None:
        if services.held is not None:
            services.held.file(*pressed(body))

    def drop_held(body: dict[str, Any]) -> None:
        if services.held is not None:
            services.held.drop(*pressed(body))

    app.event(HOME_OPENED_EVENT)(ack=acknowledge, lazy=[publish])
    app.action(HOME_FILE_HELD_ACTION)(ack=acknowledge, lazy=[file_held])
    app.action(HOME_DROP_HELD_ACTION)(ack=acknowledge, lazy=[drop_held])
    app.action(HOME_NEW_FEEDBACK_ACTION)(ack=acknowledge, lazy=[new_feedback])

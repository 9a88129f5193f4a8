"""The App Home tab: opening it publishes the person's Home; its New feedback button opens
the feedback modal, as /feedback does. ("Edit and resend" on a refused submission there is the same
button as in the refusal's DM: bot.listeners.actions answers it.)"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners import Services, acknowledge
from bot.slack.ids import HOME_NEW_FEEDBACK_ACTION, HOME_OPENED_EVENT


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

    app.event(HOME_OPENED_EVENT)(ack=acknowledge, lazy=[publish])
    app.action(HOME_NEW_FEEDBACK_ACTION)(ack=acknowledge, lazy=[new_feedback])

"""Buttons on the bot's messages: "Edit and resend" after Productlane refused a submission."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners import Services, acknowledge
from bot.slack.ids import EDIT_AND_RESEND_ACTION
from bot.slack.replies import notice_reply


def register(app: App, services: Services) -> None:
    def reopen(body: dict[str, Any], client: Any) -> None:
        item_id = str((body.get("actions") or [{}])[0].get("value") or "")
        user_id = body["user"]["id"]
        submission = services.intake.submission(item_id)
        if submission is None:
            gone = notice_reply("That submission can no longer be found. Please start again.")
            client.chat_postMessage(channel=user_id, text=gone.text, blocks=gone.blocks_json())
            return
        services.modals.open_again(
            body["trigger_id"],
            user_id,
            submission.form,
            submission.source,
            submission.confirm_channel_id,
            replaces_item_id=item_id,
        )

    app.action(EDIT_AND_RESEND_ACTION)(ack=acknowledge, lazy=[reopen])

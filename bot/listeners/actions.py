"""Buttons on the bot's messages: "Edit and resend" after Productlane refused a submission (in the
refusal's DM and on the App Home), and "Edit details" on the reply to a message filed by reaction
(a reaction files with the defaults; this changes them)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners import Services, acknowledge
from bot.slack.ids import EDIT_AND_RESEND_ACTION, EDIT_DETAILS_ACTION
from bot.slack.replies import notice_reply


def register(app: App, services: Services) -> None:
    def reopen(body: dict[str, Any], client: Any) -> None:
        item_id = str((body.get("actions") or [{}])[0].get("value") or "")
        user_id = body["user"]["id"]
        if not services.access.is_teammate(user_id, body.get("user")):
            services.access.refuse_in_modal(body["trigger_id"])
            return
        submission = services.intake.submission(item_id)
        # The button is only ever shown to the submitter (their DM, their App Home): anyone else
        # pressing one (a forwarded message) finds nothing to reopen.
        if submission is None or submission.submitter_id != user_id:
            gone = notice_reply("That submission can no longer be found. Please start again.")
            client.chat_postMessage(channel=user_id, text=gone.text, blocks=gone.blocks_json())
            return
        # Sending it again reads its channel with the bot's access: only for someone still in it.
        refusal = services.access.may_resend(submission.source, user_id)
        if refusal is not None:
            services.access.refuse_in_modal(body["trigger_id"], refusal)
            return
        services.modals.open_again(
            body["trigger_id"],
            user_id,
            submission.form,
            submission.source,
            submission.confirm_channel_id,
            replaces_item_id=item_id,
        )

    def edit_details(body: dict[str, Any], client: Any) -> None:
        key = str((body.get("actions") or [{}])[0].get("value") or "")
        user = body.get("user") or {}
        channel_id = str((body.get("channel") or {}).get("id") or "")

        def tell(text: str) -> None:
            notice = notice_reply(text)
            if channel_id:
                client.chat_postEphemeral(
                    channel=channel_id, user=user["id"], text=notice.text, blocks=notice.blocks_json()
                )

        if not services.access.is_teammate(str(user.get("id") or ""), user):
            # The reply may sit in a channel shared with a customer: only the team edits its threads.
            tell(
                "Only people in this workspace can edit the details of a Productlane thread. If you "
                "are one, Slack did not confirm it just now: please try again in a minute."
            )
            return
        target = services.edit_targets.edit_target(key) if services.edit_targets else None
        if target is None:
            tell("That feedback can no longer be found, so its details can't be edited here.")
            return
        services.modals.open_edit(body["trigger_id"], user["id"], target)

    app.action(EDIT_AND_RESEND_ACTION)(ack=acknowledge, lazy=[reopen])
    app.action(EDIT_DETAILS_ACTION)(ack=acknowledge, lazy=[edit_details])

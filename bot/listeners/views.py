"""The feedback modal's submission: validate, persist, then ack — all before Slack's 3 seconds."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.feedback.form import Field
from bot.listeners import Services
from bot.slack.ids import FEEDBACK_MODAL
from bot.slack.team import Standing
from bot.ui.access import CHECKING_WHO, outsider_modal
from bot.ui.submissions import read_submission
from bot.ui.views import errors_response

log = logging.getLogger(__name__)

NOT_SAVED = "Your feedback could not be saved just now. Please press Send again."


def register(app: App, services: Services) -> None:
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        # Only the team files or edits: the modal was opened for one of ours, and is checked again
        # here from what the request says (and what is cached: the ack must not wait).
        user_id = str(body["user"]["id"])
        standing = services.access.standing(user_id, body.get("user"))
        if standing is Standing.UNKNOWN:
            # Not known yet is not a refusal: replacing the modal would throw away what they typed
            # (someone of a sibling workspace whose cached answer expired while they wrote). The
            # modal stays as it is while Slack is asked; pressing Submit again finds the answer.
            services.access.look_up_soon(user_id)
            ack(response_action="errors", errors=errors_response({Field.TITLE: CHECKING_WHO}, view))
            return
        if standing is Standing.OUTSIDER:
            ack(response_action="update", view=outsider_modal())
            return
        outcome = read_submission(
            view,
            body["user"]["id"],
            services.drafts,
            default_pain=services.default_pain,
            triage=services.triage,
        )
        if isinstance(outcome, dict):
            ack(response_action="errors", errors=outcome)
            return
        try:
            item_id = services.intake.accept(outcome)
        except Exception:
            # The modal stays open with everything typed in it: nothing is lost.
            log.exception("could not persist submission %s", outcome.key)
            ack(response_action="errors", errors=errors_response({Field.TITLE: NOT_SAVED}))
            return
        log.info("submission %s accepted as outbox item %s", outcome.key, item_id)
        ack()

    app.view_submission(FEEDBACK_MODAL)(submit)

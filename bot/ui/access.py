"""Who may use the bot's interactive parts, and what they are told when they may not.

Every button, modal and select of the bot shows or changes internal data (the catalog's companies,
issues and tags, contacts, the outbox), so each asks first whether the person is one of ours
(`bot.slack.team`): someone of the customer's organization in a Slack Connect channel, or someone
Slack does not describe just now, gets a modal or a message only they see, and no data.

"Edit and resend" reopens feedback from a message and sends it again, and delivery then reads that
message's channel (its thread, its files) with the bot's access: in a private channel only for
someone who is still in it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.feedback.source import SourceMessage
from bot.slack.lookups import SlackChannel, SlackLookups
from bot.slack.team import OUTSIDER_TEXT, Standing, Teammates
from bot.ui.views import message_modal

__all__ = [
    "CANNOT_TELL_MEMBER",
    "CHECKING_WHO",
    "LEFT_CHANNEL",
    "OUTSIDER_TEXT",
    "Access",
    "outsider_modal",
    "reread_refusal",
]

log = logging.getLogger(__name__)

LEFT_CHANNEL = (
    "You are no longer in the channel this feedback came from, so it can't be sent again from here. "
    "Ask someone in that channel to send it."
)
CANNOT_TELL_MEMBER = (
    "Slack didn't say just now whether you are still in the channel this feedback came from, so it "
    "can't be sent again yet. Please try again in a minute."
)

# On a submission whose sender is not known yet (not cached): the modal stays as typed, and who they
# are is looked up meanwhile, so that pressing Submit again finds the answer.
CHECKING_WHO = "Checking who you are took too long — press Submit again."


def outsider_modal() -> View:
    return message_modal("Not available", OUTSIDER_TEXT)


def _readable_by_all(channel: SlackChannel | None) -> bool:
    return channel is not None and not (channel.is_private or channel.is_im or channel.is_mpim)


def reread_refusal(channel: SlackChannel | None, member: bool | None) -> str | None:
    """Why someone may not have the bot read a message's channel again for them (None: they
    may). Pure. A public channel is open to anyone of the workspace; any other channel, or one
    Slack does not describe, only to someone Slack says is in it now."""
    if _readable_by_all(channel) or member is True:
        return None
    return LEFT_CHANNEL if member is False else CANNOT_TELL_MEMBER


class Access:
    """The checks the listeners make before they show or change anything."""

    def __init__(self, client: WebClient, lookups: SlackLookups, teammates: Teammates) -> None:
        self._client = client
        self._lookups = lookups
        self.teammates = teammates
        self._looking: set[str] = set()
        self._looking_lock = threading.Lock()

    def is_teammate(self, user_id: str, payload_user: Any = None, *, wait: bool = True) -> bool:
        user = payload_user if isinstance(payload_user, dict) else None
        return self.teammates.is_teammate(user_id, user, wait=wait)

    def standing(self, user_id: str, payload_user: Any = None) -> Standing:
        """Without waiting: one of ours, a known outsider, or not known yet (`Teammates.standing`)."""
        user = payload_user if isinstance(payload_user, dict) else None
        return self.teammates.standing(user_id, user)

    def look_up_soon(self, user_id: str) -> None:
        """Ask Slack who the person is on a thread of its own (the ack does not wait), once at a
        time per person: their next request finds the answer cached."""
        with self._looking_lock:
            if not user_id or user_id in self._looking:
                return
            self._looking.add(user_id)
        threading.Thread(target=self._look_up, args=(user_id,), name="who-is", daemon=True).start()

    def _look_up(self, user_id: str) -> None:
        try:
            standing = self.teammates.look_up(user_id)
            log.info("looked up who %s is for their next request: %s", user_id, standing.value)
        except Exception:  # a lookup never raises by design; a thread must not die noisily anyway
            log.exception("looking up %s failed", user_id)
        finally:
            with self._looking_lock:
                self._looking.discard(user_id)

    def refuse_in_modal(self, trigger_id: str, text: str = OUTSIDER_TEXT) -> None:
        """Tell the person in a modal (the trigger of their click or shortcut)."""
        try:
            self._client.views_open(trigger_id=trigger_id, view=message_modal("Not available", text))
        except SlackApiError as error:
            log.info("could not tell someone why not: %s", error.response.get("error"))

    def may_resend(self, source: SourceMessage | None, user_id: str) -> str | None:
        """Why ``user_id`` may not send this feedback again (None: they may)."""
        if source is None:
            return None
        channel = self._lookups.channel(source.channel_id)
        if _readable_by_all(channel):
            return None
        return reread_refusal(channel, self._lookups.is_channel_member(source.channel_id, user_id))

"""Automatic capture needs the bot in the channel (Slack sends a bot only the messages of
conversations it is in): a public channel it joins by itself, a private one it must be invited to."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.errors import slack_error_code
from bot.slack.lookups import SlackLookups

log = logging.getLogger(__name__)


class Membership(enum.Enum):
    MEMBER = "already a member"
    JOINED = "joined"
    INVITE_NEEDED = "must be invited"
    UNKNOWN = "could not tell"


@dataclass(frozen=True)
class Outcome:
    membership: Membership
    problem: str | None = None  # Slack's error code, when it would not say or let the bot join


def ensure_member(client: WebClient, lookups: SlackLookups, channel_id: str) -> Outcome:
    """Make sure the bot is in the channel: join a public one; a private one (which Slack does not
    even describe to a bot outside it) must invite the bot."""
    lookups.forget_channel(channel_id)  # membership may have changed since it was cached
    channel = lookups.channel(channel_id)
    if channel is None:
        # conversations.info answers channel_not_found for a private channel the bot is not in.
        return Outcome(Membership.INVITE_NEEDED)
    if channel.is_member:
        return Outcome(Membership.MEMBER)
    if channel.is_private or channel.is_im or channel.is_mpim:
        return Outcome(Membership.INVITE_NEEDED)
    try:
        client.conversations_join(channel=channel_id)
    except (SlackApiError, OSError) as error:
        code = slack_error_code(error) if isinstance(error, SlackApiError) else type(error).__name__
        log.warning("could not join %s for automatic capture: %s", channel_id, code)
        return Outcome(Membership.UNKNOWN, code)
    lookups.forget_channel(channel_id)
    log.info("joined %s: it captures automatically", channel_id)
    return Outcome(Membership.JOINED)


def membership_notice(outcome: Outcome, channel_id: str, bot_user_id: str | None) -> str | None:
    """What the person who turned automatic capture on is told (mrkdwn); None when all is well already."""
    bot = f"<@{bot_user_id}>" if bot_user_id else "the Productlane app"
    if outcome.membership is Membership.JOINED:
        return (
            f":wave: I joined <#{channel_id}> to capture its messages: from now on every new message "
            "there is sent to Productlane."
        )
    if outcome.membership is Membership.INVITE_NEEDED:
        return (
            f":warning: <#{channel_id}> is set to capture every new message, but I'm not in it, so I "
            f"can't see them. Invite me: type `/invite {bot}` in the channel. Until then nothing there "
            "is captured."
        )
    if outcome.membership is Membership.UNKNOWN:
        return (
            f":warning: <#{channel_id}> is set to capture every new message, but I couldn't join it "
            f"({outcome.problem}). Invite me: type `/invite {bot}` in the channel."
        )
    return None

"""Confirmation styles: how the bot tells people that feedback from a channel reached Productlane.

The style is read from the channel's settings (the cache) when the confirmation is posted, not when
the feedback was accepted: an admin who makes a customer's channel quiet expects no bot message there
from that moment, for feedback still on its way too.

- `thread` — a reply in the message's thread (what the bot always did; `SlackNotifier` posts it).
- `private` — only the person who filed it hears: a direct message, so the link stays and later news
  (status, done, shipped) can follow under it; a message only they see in the channel when a DM is
  impossible. Feedback captured automatically was filed by nobody: nobody is told.
- `reaction` — a ✅ reaction on the message and nothing else. Where the bot cannot react (a private
  channel it is not in), the person who filed it hears privately instead: never silence.

In a channel whose style is not `thread`, no bot message appears in the message's thread later either:
Productlane → Slack news goes only under a private confirmation (a DM), or nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.channels.model import ChannelSettingsSource, Confirm, confirmation_in
from bot.feedback.posted import PostedMessage
from bot.feedback.submission import Submission
from bot.slack.replies import SlackMessenger, SlackReply

log = logging.getLogger(__name__)

CONFIRMED_EMOJI = "white_check_mark"


def style_for(channels: ChannelSettingsSource, submission: Submission) -> Confirm:
    """The confirmation style of the channel the feedback came from (a reply in the thread for
    feedback without a source message, which is confirmed privately anyway)."""
    if submission.source is None:
        return Confirm.THREAD
    return confirmation_in(channels.for_channel(submission.source.channel_id))


def confirm_quietly(
    messenger: SlackMessenger, style: Confirm, submission: Submission, reply: SlackReply
) -> PostedMessage | None:
    """Confirm in the `private` or `reaction` style; where the confirmation landed (None for a
    reaction, or when nobody is to be told). Raises `PostLater` when Slack cannot take it now."""
    source = submission.source
    if source is None:  # no message to react to or to be quiet in
        raise ValueError("a quiet confirmation needs the submission's source message")
    if style is Confirm.REACTION:
        if messenger.react(source.channel_id, source.ts, CONFIRMED_EMOJI):
            return None
        if submission.via_automatic:
            log.warning(
                "could not react to the message captured in %s; nobody else is told", source.channel_id
            )
            return None
        log.info("could not react in %s; telling the submitter privately", source.channel_id)
    elif submission.via_automatic:
        log.info("feedback captured in %s confirmed to nobody (private confirmations)", source.channel_id)
        return None
    landed = messenger.direct(submission.submitter_id, reply)
    if landed is None:
        landed = messenger.ephemeral(source.channel_id, submission.submitter_id, reply)
    if landed is None:
        log.error("could not tell %s about their delivered feedback", submission.submitter_id)
    return landed


def news_may_follow(
    channels: ChannelSettingsSource, submission: Submission, reply: Mapping[str, Any] | None
) -> bool:
    """Whether Productlane's later news about the thread (status edits, "done", "shipped") may be
    posted where its confirmation landed. In a channel confirmed privately or by reaction only under
    a direct message: never in the channel's thread."""
    if style_for(channels, submission) is Confirm.THREAD or submission.source is None:
        return True
    return bool(
        reply
        and reply.get("channel")
        and not reply.get("ephemeral")
        and reply.get("channel") != submission.source.channel_id
    )

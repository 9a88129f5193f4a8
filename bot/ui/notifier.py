"""Telling people in Slack how their feedback fared: the in-thread reply, a delay, a refusal.

The confirmation says where it landed and raises `PostLater` when Slack cannot take it now: the
worker keeps the thread and posts the confirmation again later. The other notices are best effort.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.channels.confirm import confirm_quietly, style_for
from bot.channels.model import ChannelSettingsSource, Confirm, NoChannelSettings
from bot.feedback.posted import PostedMessage, PostLater
from bot.feedback.submission import Submission
from bot.productlane.models import CreateThread
from bot.slack.replies import (
    SlackMessenger,
    confirmation_reply,
    delayed_reply,
    failure_reply,
    mrkdwn_escape,
    notice_reply,
    waiting_for_operator_reply,
)
from bot.triage.confirmation import confirmation_for

log = logging.getLogger(__name__)


class SlackNotifier:
    """Where each kind of news goes. Every path ends in a DM to the submitter if all else fails."""

    def __init__(
        self,
        messenger: SlackMessenger,
        *,
        bot_id: str | None = None,
        channel_settings: ChannelSettingsSource | None = None,
    ) -> None:
        self._messenger = messenger
        self._bot_id = bot_id
        # Each channel's confirmation style, read when the confirmation is posted.
        self._channels = channel_settings or NoChannelSettings()

    def find_delivered(self, submission: Submission, thread_url: str) -> PostedMessage | None:
        """The confirmation of `thread_url` if it is already in the source message's thread: an
        earlier attempt may have posted it and not lived to record it (a crash, a timeout after
        Slack took it). Only a thread can be searched; elsewhere this finds nothing."""
        source = submission.source
        if source is None:
            return None

        def is_ours(message: Mapping[str, Any]) -> bool:
            by_the_bot = (
                message.get("bot_id") == self._bot_id if self._bot_id else bool(message.get("bot_id"))
            )
            return by_the_bot and thread_url in json.dumps(message.get("blocks") or [])

        return self._messenger.find_in_thread(source.channel_id, source.thread_ts, is_ours)

    def delivered(
        self,
        submission: Submission,
        request: CreateThread,
        thread_url: str,
        notes: Sequence[str] = (),
    ) -> PostedMessage | None:
        """Post the confirmation; where it landed, or None when no place would take it."""
        source = submission.source
        # Asked now, not when it was filed: the channel may have been shared since.
        shared = source is not None and not self._messenger.channel_is_internal(source.channel_id)
        reply = confirmation_reply(
            confirmation_for(submission, request, thread_url, notes, in_shared_channel=shared)
        )
        style = style_for(self._channels, submission)
        if source is not None and style is not Confirm.THREAD:
            return confirm_quietly(self._messenger, style, submission, reply)
        if source is not None:
            landed = self._messenger.in_thread(source.channel_id, source.thread_ts, reply)
            if landed is not None:
                return landed
        # No source message (/feedback, global shortcut), or its thread is out of the bot's reach.
        landed = self._messenger.to_person(submission.submitter_id, reply, submission.confirm_channel_id)
        if landed is None:
            log.error("could not tell %s about their delivered feedback", submission.submitter_id)
        return landed

    def updated(
        self,
        edit: Submission,
        original: Submission,
        request: CreateThread,
        thread_url: str,
        reply: PostedMessage | None,
        notes: Sequence[str] = (),
    ) -> PostedMessage | None:
        """ "Edit details" changed the thread: refresh the confirmation to say what it says now.
        Where it landed (None: there was none to refresh). Raises `PostLater`."""
        if reply is None or reply.ephemeral:
            return reply
        shared = not self._messenger.channel_is_internal(reply.channel)
        refreshed = confirmation_reply(
            confirmation_for(
                original, request, thread_url, notes, edited_by=edit.submitter_id, in_shared_channel=shared
            )
        )
        self._messenger.update(reply, refreshed)
        return reply

    def edit_refused(self, edit: Submission, problem: str) -> None:
        reply = notice_reply(
            f":warning: Productlane didn't take the new details “{mrkdwn_escape(edit.form.title[:200])}”: "
            f"{mrkdwn_escape(problem)}"
        )
        self._messenger.to_person(edit.submitter_id, reply, self._where_they_acted(edit))

    def _where_they_acted(self, submission: Submission) -> str | None:
        if submission.source is not None:
            return submission.source.channel_id
        return submission.confirm_channel_id

    def delayed(self, submission: Submission) -> None:
        if submission.via_automatic:
            return  # nobody asked for a message captured automatically: nobody waits for it
        reply = delayed_reply(submission.form.title or "your feedback")
        self._messenger.to_person(submission.submitter_id, reply, self._where_they_acted(submission))

    def waiting_for_operator(self, submission: Submission) -> None:
        """Saved, and sent once whoever runs the bot fixes its Productlane key. Raises `PostLater`."""
        if submission.via_automatic:
            return
        reply = waiting_for_operator_reply(submission.form.title or "your feedback")
        self._messenger.to_person(submission.submitter_id, reply, self._where_they_acted(submission))

    def failed(self, submission: Submission, item_id: str, problem: str) -> None:
        if (
            submission.via_automatic
            and submission.source is not None
            and submission.source.author_is_external
        ):
            # The customer's own message, captured in a shared channel: they are not told of our
            # refusals. It stays failed in `productlane-slack outbox` for the operator.
            log.warning("captured message %s not sent (%s); its author is external", item_id, problem)
            return
        reply = failure_reply(submission.form.title or "your feedback", problem, item_id)
        # A DM stays, so the "Edit and resend" button is still there after a reload.
        channel = self._where_they_acted(submission)
        try:
            if self._messenger.direct(submission.submitter_id, reply) is not None:
                return
        except PostLater as later:
            if not channel:
                raise
            log.info(
                "the refusal DM to %s must wait (%s); posting it in the channel",
                submission.submitter_id,
                later,
            )
        if channel:
            self._messenger.ephemeral(channel, submission.submitter_id, reply)

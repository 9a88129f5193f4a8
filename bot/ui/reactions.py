"""An emoji files a message: reacting with `FEEDBACK_REACTION` to a message sends it to
Productlane with the defaults — its author as the contact, its first line as the title, the default
pain level (the channel's, its company and tags, or the author's company) — through the
same outbox as the modal. One message gives one thread, however many people
react and however often Slack sends the event; whoever reacts to a message already in Productlane is
told so, privately. The emoji is a request: whenever it files nothing (the bot cannot read the
channel, the message is gone or cannot be feedback, the outbox is away), the person who reacted is
told why, in the channel or else by DM. Only other emoji, channels whose settings turn the emoji off
and people of another organization get no answer. While Slack has trouble showing the message
(rate limited, a 5xx, unreachable) it is read again, up to 3 times; then the person who reacted is
told to try again, never left without an answer.

Runs after Slack has its ack (a lazy listener): reading the message and the author may take a while.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.channels.defaults import with_channel_defaults
from bot.channels.model import ChannelSettingsSource, NoChannelSettings, emoji_files_in
from bot.delivery.sent import SentRecord
from bot.feedback.form import FormDefaults, validate_form, with_author_contact
from bot.feedback.posted import PostLater
from bot.feedback.source import OWN_MESSAGE, source_from_message, why_not_feedback
from bot.feedback.submission import Filed, Submission, reaction_key
from bot.render.plain_text import message_to_plain_text, title_from_text
from bot.slack.replies import SlackTools, mrkdwn_escape, notice_reply, post_later_if_transient
from bot.slack.team import belongs
from bot.triage.service import Triage
from bot.ui.modals import TITLE_PREFILL_MAX, BotIdentity

log = logging.getLogger(__name__)

# Reading the reacted-to message while Slack has trouble: 3 tries over at most about a minute.
READ_ATTEMPTS = 3
READ_BACKOFF_SECONDS = 2.0
READ_WAIT_MAX_SECONDS = 30.0


class Filing(Protocol):
    """What the reaction asks of delivery."""

    def already_sent(self, channel_id: str, ts: str) -> SentRecord | None:
        """Whether the message is in Productlane: its latest delivery (the thread's link, who sent
        it), else None."""
        ...

    def file(self, submission: Submission) -> Filed: ...


def already_in_productlane(thread_url: str | None) -> str:
    if thread_url:
        return f":inbox_tray: Already in Productlane: <{thread_url}|the thread>."
    return ":inbox_tray: That message is already in Productlane."


ON_ITS_WAY = ":inbox_tray: That message is already on its way to Productlane; the link follows in its thread."
NOT_FILED_UNKNOWN = (
    ":warning: I couldn't file that message: Slack didn't confirm just now that you are in this "
    "workspace. Take the reaction off and add it again in a minute."
)


def cannot_read_now() -> str:
    return (
        ":warning: I couldn't file that message by its reaction: Slack wouldn't show it to me just "
        "now. Take the reaction off and add it again in a minute, or use *Send to Productlane* on it."
    )


def cannot_read(code: str | None) -> str:
    if code in ("not_in_channel", "channel_not_found", "missing_scope"):
        why = (
            "I'm not in that channel, so I can't read its messages. Invite me with `/invite` and react again"
        )
    else:
        why = "Slack won't let me read it" + (f" (`{mrkdwn_escape(code)}`)" if code else "")
    return (
        f":warning: I couldn't file that message by its reaction: {why}, or use *Send to Productlane* on it."
    )


MESSAGE_GONE = (
    ":warning: I couldn't file that message by its reaction: I can't find it any more (deleted, or "
    "in a thread I can't see)."
)

NOT_KEPT = (
    ":warning: I couldn't file that message by its reaction: I couldn't keep it just now, so nothing "
    "was sent. Take the reaction off and add it again in a few minutes, or use *Send to Productlane* on it."
)


def cannot_use(why_not: str) -> str:
    """For a message that can never be feedback: `why_not` says what to do instead."""
    return f":warning: I couldn't file that message by its reaction: {why_not}"


def cannot_file(problem: str) -> str:
    return (
        f":warning: I couldn't file that message by its reaction: {mrkdwn_escape(problem)} "
        "Use *Send to Productlane* on it to fill in the details."
    )


class ReactionFiler:
    """Turns one `reaction_added` event into a submission, or into nothing (with a reason logged)."""

    def __init__(
        self,
        slack: SlackTools,
        filing: Filing,
        defaults: FormDefaults,
        identity: BotIdentity,
        reaction: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        channel_settings: ChannelSettingsSource | None = None,
        triage: Triage | None = None,
    ) -> None:
        self._sleep = sleep
        # Channel settings: where the emoji files messages, and the channel's defaults.
        self._channels = channel_settings or NoChannelSettings()
        self._client = slack.client
        self._lookups = slack.lookups
        self._messenger = slack.messenger
        self._filing = filing
        self._defaults = defaults
        self._identity = identity
        self.reaction = reaction
        # Triage: the channel's company, tags and pain level, else the author's company.
        self._triage = triage

    def wants(self, event: Mapping[str, Any]) -> bool:
        """The configured emoji on a message (a skin tone counts as the emoji itself)."""
        name = str(event.get("reaction") or "").split("::", 1)[0]
        item = event.get("item")
        return (
            bool(self.reaction)
            and name == self.reaction
            and isinstance(item, Mapping)
            and (item.get("type") == "message")
        )

    def on_reaction(self, event: Mapping[str, Any], team_id: str | None) -> None:
        if not self.wants(event):
            return
        item: Mapping[str, Any] = event["item"]
        channel_id, ts, reactor = str(item.get("channel") or ""), str(item.get("ts") or ""), event.get("user")
        if not channel_id or not ts or not isinstance(reactor, str) or not reactor:
            return
        settings = self._channels.for_channel(channel_id)
        if not emoji_files_in(settings):
            log.info("reaction in %s ignored: the channel's capture setting turns the emoji off", channel_id)
            return
        if event.get("item_user") and event.get("item_user") == self._identity.user_id:
            log.info("reaction in %s ignored: it is on one of the bot's own messages", channel_id)
            self._tell(channel_id, reactor, cannot_use(OWN_MESSAGE))
            return
        person = self._lookups.user(reactor)
        if person is None:
            # Slack did not say who reacted: someone of the customer's organization files nothing.
            log.info("reaction in %s ignored: Slack did not say who %s is", channel_id, reactor)
            self._tell(channel_id, reactor, NOT_FILED_UNKNOWN)
            return
        if not belongs(person.team_id, person.enterprise_id, self._identity.own_team):
            log.info("reaction in %s ignored: %s is from another organization", channel_id, reactor)
            return
        message, readable = self._read(channel_id, ts, reactor)
        if message is None:
            if readable:
                self._tell(channel_id, reactor, MESSAGE_GONE)
            return
        channel = self._lookups.channel(channel_id)
        source = source_from_message(
            message,
            channel_id=channel_id,
            workspace_team_id=team_id or self._identity.team_id,
            channel_name=channel.name if channel else None,
        )
        why_not = why_not_feedback(source, bot_user_id=self._identity.user_id, bot_id=self._identity.bot_id)
        if why_not is not None:
            log.info(
                "reaction in %s ignored: the message (%s) cannot be feedback",
                channel_id,
                source.subtype or "bot",
            )
            self._tell(channel_id, reactor, cannot_use(why_not))
            return
        sent = self._filing.already_sent(channel_id, ts)
        if sent is not None:
            # Whoever sent it has its reply in the thread already: Slack sending their reaction's
            # event again (or their reaction after the shortcut) needs no word.
            if sent.submitter_id != reactor:
                self._tell(channel_id, reactor, already_in_productlane(sent.thread_url or ""))
            return
        author = self._lookups.user(source.author_id) if source.author_id else None
        title = title_from_text(message_to_plain_text(source.content, self._lookups), TITLE_PREFILL_MAX)
        form = with_author_contact(self._defaults.blank_form(title=title), author)
        # The channel's defaults, and (with the catalog) the company of the author's email domain.
        if self._triage is not None:
            form = self._triage.prefill(form, channel_id)
        else:
            form = with_channel_defaults(form, settings)
        problems = validate_form(form, has_source=True)
        if problems:
            self._tell(channel_id, reactor, cannot_file(" ".join(problems.values())))
            return
        submission = Submission(
            key=reaction_key(channel_id, ts),
            submitter_id=reactor,
            form=form,
            source=source,
            submitted_at=datetime.now(UTC),
            via_reaction=True,
        )
        try:
            filed = self._filing.file(submission)
        except Exception as error:
            # The outbox is away: nothing was accepted, so the person must hear to try again.
            log.error(
                "reaction in %s not filed: the outbox refused it (%s)", channel_id, type(error).__name__
            )
            self._tell(channel_id, reactor, NOT_KEPT)
            return
        if filed.created:
            log.info("message %s/%s filed by reaction", channel_id, ts)
        elif filed.submitter_id != reactor:
            # Someone else's reaction filed it first; Slack retrying this one's event stays quiet.
            self._tell(
                channel_id,
                reactor,
                already_in_productlane(filed.thread_url) if filed.thread_url else ON_ITS_WAY,
            )

    def _read(self, channel_id: str, ts: str, reactor: str) -> tuple[dict[str, Any] | None, bool]:
        """The message at channel/ts, read again while Slack's trouble passes (rate limited, a
        5xx, unreachable): the reaction is the person's whole request, and Slack sends it once.
        The flag says whether Slack answered (a missing message then is gone); when it did not,
        the person has already been told."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return self._read_once(channel_id, ts), True
            except (SlackApiError, OSError) as error:
                try:
                    post_later_if_transient(error)
                except PostLater as later:
                    if attempt == READ_ATTEMPTS:
                        log.warning(
                            "reaction in %s not filed: Slack would not show the message (%s)",
                            channel_id,
                            later.reason,
                        )
                        self._tell(channel_id, reactor, cannot_read_now())
                        return None, False
                    wait = min(later.retry_after or READ_BACKOFF_SECONDS * attempt, READ_WAIT_MAX_SECONDS)
                    log.info(
                        "reaction in %s: reading the message again in %.0f s (%s)",
                        channel_id,
                        wait,
                        later.reason,
                    )
                    self._sleep(wait)
                    continue
                # Not transient: Slack refused (the bot is not in the channel, a missing scope).
                code = error.response.get("error") if isinstance(error, SlackApiError) else None
                log.info("reaction in %s ignored: the bot cannot read the message (%s)", channel_id, code)
                self._tell(channel_id, reactor, cannot_read(str(code) if code else None))
                return None, False
        return None, False

    def _read_once(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        """The message at channel/ts: a top-level one from the history, a reply from its thread."""
        history = self._client.conversations_history(
            channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        found = _at(history.get("messages"), ts)
        if found is None:
            try:
                replies = self._client.conversations_replies(
                    channel=channel_id, ts=ts, oldest=ts, inclusive=True, limit=10
                )
                found = _at(replies.get("messages"), ts)
            except SlackApiError as error:
                if error.response.get("error") != "thread_not_found":
                    raise  # in neither the history nor a thread (thread_not_found): deleted
        if found is None:
            log.info("reaction in %s ignored: message %s not found", channel_id, ts)
        return found

    def _tell(self, channel_id: str, user_id: str, text: str) -> None:
        """Only the person who reacted hears it: in the channel, else (the bot is not in it) by DM."""
        try:
            self._messenger.to_person(user_id, notice_reply(text), channel_id)
        except Exception as error:  # best effort: the reaction itself is handled
            log.info("could not tell %s about their reaction: %s", user_id, type(error).__name__)


def _at(messages: Any, ts: str) -> dict[str, Any] | None:
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("ts") == ts:
            return message
    return None

"""Automatic capture: in a channel set to `automatic`, every new top-level message by a person becomes
a Productlane thread, with the channel's defaults; the author is the contact and the submitter.

On the ack path (`AutomaticCapture`, the consumer of `Route.AUTOMATIC`) a message costs one INSERT and
no Slack or Productlane call: the event already holds the message. Safe by construction:

- `bot.message_events` routes only a person's new top-level messages here (not bots, the bot itself,
  joins and other subtypes, thread replies); edits are ignored here.
- The outbox item's key names the message, so Slack delivering it again, or two replicas both
  receiving it, file it once (the key is unique in the database).
- Keys are in-order keys (`bot.delivery.outbox`): a channel's messages are sent in the order they were
  posted (their ts), whatever order the acks inserted them in. A captured message waits `settle`
  (AUTOMATIC_SETTLE_SECONDS, `SETTLE` by default) before its turn, so that one posted just before it
  but delivered a moment later (Slack does not promise order; acks run on several threads, on several
  replicas) still goes first. Nobody waits on it: the message is in Slack already, and its thread is
  in Productlane a couple of seconds later.
- A deletion (Slack sends `message_deleted` here too) is remembered; delivery does not send a message
  deleted before its turn (`DeletedInSlack`) and drops its item, words and all.
- Flood limits (`bot.floods`): a message over the limits per author or per channel is held — kept in
  the floods' table, not in the outbox — until an admin files it (`file_held`: the normal path from
  here on) or drops it. Only a message that would be filed is counted.

In delivery, `AutomaticComposer` looks up the author's email for the contact (a cached `users.info`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from bot.channels.defaults import with_channel_defaults
from bot.channels.model import ChannelSettingsSource
from bot.channels.store import ChannelSettingsStore
from bot.delivery.composer import SlackComposer
from bot.delivery.intake import KIND
from bot.delivery.outbox import EncodedJson, Outbox, in_order_key
from bot.feedback.capture import Captured
from bot.feedback.form import FormDefaults, with_author_contact
from bot.feedback.source import source_from_message
from bot.feedback.submission import Submission
from bot.floods import FloodAlerts, FloodStore, HeldItem, Scope
from bot.message_events import ChannelMessage, MessageKind
from bot.productlane.models import CreateThread, UpdateThread
from bot.slack.lookups import SlackLookups

log = logging.getLogger(__name__)

SLACK_TS = re.compile(r"\d{10}\.\d{6}")
SETTLE = timedelta(seconds=2)
NO_CONTACT = (
    "Slack doesn't share the email of the message's author, and Productlane files feedback under "
    "a contact's email"
)


def automatic_key(channel_id: str, ts: str) -> str:
    """One message, one thread: the outbox key of a message captured automatically. In order within
    its channel (by ts) when the ts has Slack's usual shape, as every real one does."""
    if SLACK_TS.fullmatch(ts):
        return in_order_key(f"automatic-{channel_id}", ts)
    return f"automatic:{channel_id}:{ts}"


def automatic_submission(
    message: ChannelMessage,
    team_id: str | None,
    channels: ChannelSettingsSource,
    defaults: FormDefaults,
    *,
    now: datetime | None = None,
) -> Submission | None:
    """The submission for a new top-level message, with its channel's defaults; None when there is
    nothing to file (the channel no longer captures automatically, or the message is empty)."""
    settings = channels.for_channel(message.channel)
    if settings is None or not settings.captures_automatically or message.user is None:
        return None
    source = source_from_message(message.event, channel_id=message.channel, workspace_team_id=team_id)
    if not source.content:
        return None
    form = with_channel_defaults(defaults.blank_form(), settings)
    return Submission(
        key=automatic_key(message.channel, message.ts),
        submitter_id=message.user,
        form=form,
        source=source,
        submitted_at=now or datetime.now(UTC),
        via_automatic=True,
    )


class AutomaticCapture:
    """The consumer of `Route.AUTOMATIC`: persists what it must and returns (then Slack has its ack);
    raises when the database cannot take it, so that Slack sends the event again."""

    def __init__(
        self,
        outbox: Outbox,
        store: ChannelSettingsStore,
        channels: ChannelSettingsSource,
        defaults: FormDefaults,
        wake: Callable[[], None] = lambda: None,
        *,
        floods: FloodStore | None = None,
        alerts: FloodAlerts | None = None,
        settle: timedelta = SETTLE,
    ) -> None:
        self._outbox = outbox
        self._settle = settle
        self._store = store
        self._channels = channels
        self._defaults = defaults
        self._wake = wake
        self._floods = floods
        self._alerts = alerts

    def __call__(self, message: ChannelMessage, team_id: str | None) -> None:
        if message.kind is MessageKind.DELETED:
            self._store.mark_deleted(message.channel, message.ts)
            if self._floods is not None and self._floods.forget(Scope.AUTOMATIC, message.channel, message.ts):
                log.info("held message %s/%s deleted in Slack: dropped", message.channel, message.ts)
            return
        if message.kind is not MessageKind.NEW or not message.top_level:
            return  # an edit files nothing new; a reply is a follow-up, not a thread of its own
        submission = automatic_submission(message, team_id, self._channels, self._defaults)
        if submission is None:
            return
        if self._floods is not None:
            verdict = self._floods.admit(
                Scope.AUTOMATIC,
                message.channel,
                message.ts,
                submission.submitter_id,
                submission.model_dump(mode="json"),
            )
            if verdict.held:
                log.info("message %s/%s held: over the flood limits", message.channel, message.ts)
                if self._alerts is not None:
                    self._alerts.held(Scope.AUTOMATIC, message.channel, verdict)
                return
        self._enqueue(submission, f"message {message.channel}/{message.ts} captured automatically")

    def file_held(self, held: HeldItem) -> str | None:
        """An admin filed a held message: it goes the way every captured message goes (its key
        still names the message, so filing it twice files it once). None when it is on its way;
        else why it could not be (it then stays held)."""
        try:
            submission = Submission.model_validate(held.payload)
        except ValueError:
            log.warning("held item %s could not be read; not filed", held.id)
            return "the held copy could not be read"
        self._enqueue(submission, f"held message {held.channel_id}/{held.ts} filed by an admin")
        return None

    def _enqueue(self, submission: Submission, what: str) -> None:
        added = self._outbox.add(
            submission.key,
            KIND,
            EncodedJson(submission.model_dump_json()),
            # The author filed it: their App Home lists it among what they sent.
            submitter_id=submission.submitter_id[:64],
            due_in=self._settle,
        )
        if added.created:
            log.info("%s as outbox item %s", what, added.id)
            self._wake()


class DeletedInSlack:
    """Delivery asks before sending a captured message: was it deleted in Slack meanwhile?"""

    def __init__(self, store: ChannelSettingsStore) -> None:
        self._store = store

    def __call__(self, submission: Submission) -> str | None:
        """Why the submission must not be sent, or None. Only captured messages are looked up."""
        source = submission.source
        if not submission.via_automatic or source is None:
            return None
        if self._store.was_deleted(source.channel_id, source.ts):
            return "its message was deleted in Slack before its turn"
        return None


class AutomaticComposer:
    """`SlackComposer`, with a captured message's author as its contact (looked up here, in delivery:
    the ack path makes no Slack call). The same answer each time it composes the same submission."""

    def __init__(self, composer: SlackComposer, lookups: SlackLookups) -> None:
        self._composer = composer
        self._lookups = lookups

    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        return self._composer.compose(self._with_contact(submission), captured)

    def update(self, edit: Submission) -> UpdateThread:
        return self._composer.update(edit)

    def _with_contact(self, submission: Submission) -> Submission:
        source = submission.source
        if not submission.via_automatic or submission.form.contact_email or source is None:
            return submission
        author = self._lookups.user(source.author_id) if source.author_id else None
        form = with_author_contact(submission.form, author)
        if not form.contact_email:
            # Refused like any form Productlane cannot take: the author hears it with Edit and resend.
            error = PydanticCustomError("no_contact", NO_CONTACT)
            raise ValidationError.from_exception_data(
                "CreateThread", [InitErrorDetails(type=error, loc=("contact_email",), input="")]
            )
        return submission.model_copy(update={"form": form})

"""Compose with what Slack knows: permalink, channel, names — looked up, then handed to the pure step."""

from __future__ import annotations

from bot.feedback.capture import Captured
from bot.feedback.compose import SlackContext, compose_thread, thread_title
from bot.feedback.submission import Submission
from bot.productlane.models import CreateThread, UpdateThread
from bot.slack.lookups import SlackLookups
from bot.triage.delivery import update_fields


class SlackComposer:
    """Looks up what compose needs from Slack (permalink, channel, names), then composes."""

    def __init__(self, lookups: SlackLookups) -> None:
        self._lookups = lookups

    def slack_context(self, submission: Submission) -> SlackContext:
        source = submission.source
        submitter = self._lookups.user(submission.submitter_id)
        if source is None:
            return SlackContext(submitter_name=submitter.name if submitter else None)
        channel = self._lookups.channel(source.channel_id)
        author = self._lookups.user(source.author_id) if source.author_id else None
        return SlackContext(
            permalink=self._lookups.permalink(source.channel_id, source.ts),
            channel_name=channel.name if channel else None,
            channel_is_shared=bool(channel and channel.is_shared),
            author_name=author.name if author else None,
            submitter_name=submitter.name if submitter else None,
        )

    def update(self, edit: Submission) -> UpdateThread:
        """ "Edit details": the thread's new title (the first line, when left empty) and pain level,
        and the triage fields the person changed, and only those."""
        return UpdateThread(
            title=thread_title(edit.form, edit.source, self._lookups),
            pain_level=edit.form.pain_level,
            **update_fields(edit.form, edit.edited_fields),
        )

    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        return compose_thread(
            submission.form,
            submission.source,
            submission.submitter_id,
            self.slack_context(submission),
            self._lookups,
            submission.reference,
            captured,
        )

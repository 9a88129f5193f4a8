"""The fallback route: the thread's body rendered again as the whole Slack conversation.

When Productlane refuses comments, the documented way left is `PATCH /threads/{id}` with a new
`text`. The body is then what "Include the whole thread" makes of the thread as Slack shows it now
(`bot.feedback.conversation`, through the same composer delivery uses): every person's message in
order with its author and time, the filed one marked, files shown from their Productlane copies.
So edits and deletions in Slack show too, and sending the same body twice changes nothing.

Slack's thread holds replies that must never reach Productlane, and the body leaves them out: those
the flood limits hold or an admin dropped (asked of `bot.floods`), and follow-ups Productlane
refused for their content (kept for the admins, never sent).
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ValidationError
from slack_sdk.errors import SlackApiError

from bot.budgets.file_copies import CopyLedger, FileCopier
from bot.conversation.store import FollowUpStore, ThreadWork
from bot.delivery.copies import copies_of
from bot.delivery.outbox import Outbox
from bot.feedback.capture import Captured, SlackFile, TryLater, slack_files
from bot.feedback.conversation import included_messages
from bot.feedback.submission import Submission
from bot.floods import FloodStore, Scope
from bot.productlane.models import CreateThread
from bot.slack.errors import is_transient, slack_error_code, try_later

__all__ = ["BodyUnavailable", "RenderedBody", "WholeThread"]


class BodyUnavailable(Exception):
    """The body cannot be rendered again, for a reason that will not pass."""


class ThreadComposer(Protocol):
    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread: ...


class ThreadReader(Protocol):
    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]: ...


class RenderedBody:
    def __init__(self, text: str, in_slack: frozenset[str]) -> None:
        self.text = text
        self.in_slack = in_slack
        """The ts of every message Slack showed: a follow-up not among them was deleted."""


class WholeThread:
    def __init__(
        self,
        store: FollowUpStore,
        outbox: Outbox,
        composer: ThreadComposer,
        reader: ThreadReader,
        copier: FileCopier,
        floods: FloodStore | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._composer = composer
        self._reader = reader
        self._copier = copier
        self._floods = floods

    def render(self, work: ThreadWork, ledger: CopyLedger) -> RenderedBody:
        """Raises `TryLater` (Slack cannot answer now), `BodyUnavailable`, or what copying files
        raises (`CopyLater`, `LeaseLost`, `KeyRefused`)."""
        # The submission and its files' copies are delivery's: it is asked for them.
        found = self._outbox.payload_by_key(work.item_key) if work.item_key else None
        if found is None:
            raise BodyUnavailable(
                "the submission behind this thread is no longer kept (OUTBOX_RETENTION_DAYS), so its "
                "body cannot be rendered again"
            )
        item_id, payload = found
        try:
            submission = Submission.model_validate(payload)
        except ValidationError as error:
            raise BodyUnavailable("the submission behind this thread is unreadable") from error
        source = submission.source
        if source is None:
            raise BodyUnavailable("the thread was not filed from a Slack message")
        in_slack = self._read(work)
        stamps = frozenset(str(message.get("ts")) for message in in_slack)
        withheld = self._withheld(work, stamps - {source.ts})
        thread = [message for message in in_slack if str(message.get("ts")) not in withheld]
        if not any(message.get("ts") == source.ts for message in thread):
            # The filed message is gone from Slack: the body keeps it as it was sent.
            thread.append({**source.content, "ts": source.ts, "user": source.author_id})
            thread.sort(key=lambda message: float(str(message.get("ts") or 0)))
        shown = included_messages(thread, source.ts)
        files = slack_files(shown)
        filed_copies = copies_of(self._outbox.database, item_id)
        copies = {**filed_copies, **self._store.copies([file.id for file in files])}
        missing: list[SlackFile] = [file for file in files if file.id not in copies]
        if missing:
            copies.update(self._copier.copy_into(ledger, missing, channel_id=work.channel_id))
        request = self._composer.compose(
            submission, Captured(thread=tuple(thread), copies=copies, files=files)
        )
        # Every message Slack shows, withheld or not: a follow-up missing from it was deleted.
        return RenderedBody(request.text, stamps | {source.ts})

    def _withheld(self, work: ThreadWork, stamps: frozenset[str]) -> frozenset[str]:
        """Which of the thread's replies stay out of the body."""
        refused = self._store.withheld(work.channel_id, work.thread_ts)
        if self._floods is None:
            return refused
        return refused | self._floods.withheld(Scope.FOLLOWUP, work.channel_id, stamps)

    def as_filed(self, work: ThreadWork) -> str | None:
        """The body the bot wrote when it filed the thread, composed again the same way from the
        kept submission and its files' copies; None when that cannot be done faithfully (the
        submission is no longer kept, or it included the whole Slack thread, which has changed
        since). For a thread followed before the bot kept its body's fingerprint: a body equal to
        this one was not changed in Productlane."""
        found = self._outbox.payload_by_key(work.item_key) if work.item_key else None
        if found is None:
            return None
        item_id, payload = found
        try:
            submission = Submission.model_validate(payload)
        except ValidationError:
            return None
        if submission.source is None or submission.form.include_thread:
            return None
        files = slack_files([submission.source.content])
        copies = copies_of(self._outbox.database, item_id)
        try:
            return self._composer.compose(submission, Captured(copies=copies, files=files)).text
        except Exception:  # a name lookup or a stale form: the caller cannot tell, and keeps the body
            return None

    def _read(self, work: ThreadWork) -> list[dict[str, Any]]:
        try:
            return [dict(message) for message in self._reader.replies(work.channel_id, work.thread_ts)]
        except SlackApiError as error:
            if is_transient(error):
                raise try_later("conversations.replies", error) from error
            raise BodyUnavailable(f"Slack will not show the thread ({slack_error_code(error)})") from error
        except OSError as error:
            raise TryLater(f"conversations.replies: {type(error).__name__}") from error

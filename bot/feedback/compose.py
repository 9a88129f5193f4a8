"""Compose: a validated form (and the message it came from) → Productlane's create-thread request.

Pure: names and Slack facts arrive already looked up, in `SlackContext` and a `NameResolver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bot.feedback.capture import Captured
from bot.feedback.conversation import conversation_html
from bot.feedback.form import FeedbackForm, rich_text_is_empty
from bot.feedback.source import SourceMessage
from bot.productlane.models import CreateThread, Notify, ThreadOrigin
from bot.render.message_html import message_to_html, rich_text_to_html, sanitize_html
from bot.render.names import NameResolver
from bot.render.plain_text import message_to_plain_text, rich_text_to_plain_text, title_from_text

from .form import TITLE_MAX

FALLBACK_TITLE = "Feedback from Slack"


@dataclass(frozen=True)
class SlackContext:
    """Facts about the source looked up from Slack (any may be unknown)."""

    permalink: str | None = None
    channel_name: str | None = None
    channel_is_shared: bool = False  # a Slack Connect channel, shared with another organization
    author_name: str | None = None
    submitter_name: str | None = None


def _person(name: str | None, user_id: str | None) -> str:
    return f"@{name}" if name else (f"@{user_id}" if user_id else "someone")


def _attribution(
    source: SourceMessage | None, submitter_id: str, slack: SlackContext, reference: str | None
) -> str:
    submitter = escape(_person(slack.submitter_name, submitter_id))
    # The reference lets delivery recognise this thread after an answer was lost.
    ref = f" · ref {escape(reference)}" if reference else ""
    if source is None:
        return f"<p>Sent from Slack by {submitter}{ref}</p>"
    channel = escape(f"#{slack.channel_name or source.channel_name or source.channel_id}")
    where = f'<a href="{escape(slack.permalink)}">{channel}</a>' if slack.permalink else channel
    author = escape(_person(slack.author_name, source.author_id or source.bot_id))
    return f"<p>From Slack: {where} · message by {author} · sent by {submitter}{ref}</p>"


def thread_html(
    form: FeedbackForm,
    source: SourceMessage | None,
    submitter_id: str,
    slack: SlackContext,
    names: NameResolver,
    reference: str | None = None,
    captured: Captured | None = None,
) -> str:
    """The thread body: the message (or the whole Slack thread, or the typed feedback), the note,
    and a link back. ``captured``: the thread and file copies delivery gathered, if any."""
    captured = captured or Captured()
    parts: list[str] = []
    if source is not None and captured.thread is not None:
        parts.append(conversation_html(captured.thread, source.ts, names, captured.copies, slack.permalink))
    elif source is not None:
        parts.append(message_to_html(source.content, names, captured.copies))
        if captured.thread_problem:
            problem = escape(captured.thread_problem)
            parts.append(f"<p><em>Only this message is here, not its Slack thread: {problem}.</em></p>")
    elif form.feedback is not None:
        parts.append(rich_text_to_html(form.feedback, names))
    if not rich_text_is_empty(form.note) and form.note is not None:
        submitter = escape(_person(slack.submitter_name, submitter_id))
        parts.append(f"<p><strong>Note from {submitter}:</strong></p>")
        parts.append(rich_text_to_html(form.note, names))
    parts.append(_attribution(source, submitter_id, slack, reference))
    return sanitize_html("".join(parts))


def thread_title(form: FeedbackForm, source: SourceMessage | None, names: NameResolver) -> str:
    if form.title.strip():
        return form.title.strip()[:TITLE_MAX]
    if source is not None:
        text = message_to_plain_text(source.content, names)
    elif form.feedback is not None:
        text = rich_text_to_plain_text(form.feedback, names)
    else:
        text = ""
    return title_from_text(text, 80) or FALLBACK_TITLE


def thread_origin(source: SourceMessage | None, slack: SlackContext) -> ThreadOrigin:
    if slack.channel_is_shared or (source is not None and source.author_is_external):
        return ThreadOrigin.slack_connect
    return ThreadOrigin.slack


def compose_thread(
    form: FeedbackForm,
    source: SourceMessage | None,
    submitter_id: str,
    slack: SlackContext,
    names: NameResolver,
    reference: str | None = None,
    captured: Captured | None = None,
) -> CreateThread:
    """The POST /v2/threads body for a validated form."""
    return CreateThread(
        text=thread_html(form, source, submitter_id, slack, names, reference, captured),
        title=thread_title(form, source, names),
        pain_level=form.pain_level,
        contact_email=form.contact_email.strip(),
        contact_name=form.contact_name.strip() or None,
        origin=thread_origin(source, slack),
        notify=Notify(slack=form.notify_slack, email=form.notify_email),
        company_id=form.company_id,
        issue_id=form.issue_id,
        project_id=form.project_id,
        assignee_id=form.assignee_id,
    )

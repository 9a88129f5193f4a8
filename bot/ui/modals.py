"""Opening the feedback modal within Slack's 3-second trigger window, then filling in slow facts.

`views.open` goes out first, built only from the payload and what is already cached. The author's
email and name, the permalink and the channel are looked up afterwards and added with `views.update`,
guarded by the view's hash. The block and action ids stay the same, so Slack keeps whatever the
person has typed meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.catalog import Catalog
from bot.feedback.form import FeedbackForm, Field, FormDefaults, with_author_contact
from bot.feedback.source import SourceMessage, why_not_feedback
from bot.feedback.submission import Draft, DraftStore, EditTarget
from bot.render.names import NameResolver
from bot.render.plain_text import message_to_plain_text, title_from_text
from bot.render.rich_text_value import mrkdwn_to_rich_text
from bot.slack.lookups import CachedNames, SlackLookups, SlackUser
from bot.slack.team import OwnTeam
from bot.triage.fields import NO_TRIAGE, TriageView
from bot.triage.service import Triage
from bot.ui.views import ModalContent, feedback_modal, message_modal

log = logging.getLogger(__name__)

LOOKING_UP = ":hourglass_flowing_sand: Looking up the author's details…"
TITLE_PREFILL_MAX = 120


@dataclass(frozen=True)
class BotIdentity:
    user_id: str | None
    bot_id: str | None
    team_id: str | None
    # The Enterprise Grid organization, when the app is installed for the whole organization.
    enterprise_id: str | None = None

    @property
    def own_team(self) -> OwnTeam:
        return OwnTeam(self.team_id, self.enterprise_id)


def already_sent_notice(thread_url: str | None, submitter_id: str | None, delivered_at: datetime) -> str:
    """Shown on the modal of a message that is already in Productlane; sending again stays possible."""
    link = f"<{thread_url}|in Productlane>" if thread_url else "to Productlane"
    who = f" by <@{submitter_id}>" if submitter_id else ""
    epoch = int(delivered_at.timestamp())
    when = f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{delivered_at:%Y-%m-%d %H:%M} UTC>"
    return f":warning: Already sent {link}{who} on {when}. Send it again only if you mean to."


def source_label(source: SourceMessage, names: NameResolver) -> str:
    author = source.author_id and names.user_name(source.author_id)
    channel = names.channel_name(source.channel_id) or source.channel_name
    who = f"@{author}" if author else "a bot" if source.bot_id and not source.author_id else "someone"
    where = f" in #{channel}" if channel else ""
    external = " (external)" if source.author_is_external else ""
    return f"Message from {who}{external}{where}"


def message_content(
    draft: Draft,
    form: FeedbackForm,
    names: NameResolver,
    notices: tuple[str, ...] = (),
    thread_size: int | None = None,
    triage: TriageView = NO_TRIAGE,
) -> ModalContent:
    source = draft.source
    return ModalContent(
        triage=triage,
        draft_id=draft.draft_id,
        form=form,
        has_source=source is not None,
        source_label=source_label(source, names) if source else None,
        preview=message_to_plain_text(source.content, names) if source else None,
        notices=notices,
        offer_thread=bool(source and source.in_thread),
        thread_size=thread_size or (source.thread_size if source else None),
    )


class FeedbackModals:
    """Opens and refreshes the feedback modal."""

    def __init__(
        self,
        client: WebClient,
        lookups: SlackLookups,
        drafts: DraftStore,
        defaults: FormDefaults,
        identity: BotIdentity,
        already_sent: Callable[[SourceMessage], str | None] = lambda source: None,
        triage: Triage | None = None,
    ) -> None:
        self._client = client
        self._lookups = lookups
        self._drafts = drafts
        self._defaults = defaults
        self._identity = identity
        self._already_sent = already_sent
        # Without a catalog no triage field shows: the modal is as before triage fields existed.
        self._triage = triage or Triage(Catalog.off())

    def _new_draft(self, submitter_id: str, **values: Any) -> Draft:
        draft = Draft(draft_id=uuid.uuid4().hex, submitter_id=submitter_id, **values)
        self._drafts.put(draft)
        return draft

    def _open(self, trigger_id: str, content: ModalContent) -> dict[str, Any] | None:
        response = self._client.views_open(trigger_id=trigger_id, view=feedback_modal(content))
        view = response.get("view")
        return view if isinstance(view, dict) else None

    def _form_from(
        self, source: SourceMessage, author: SlackUser | None, names: NameResolver
    ) -> FeedbackForm:
        title = title_from_text(message_to_plain_text(source.content, names), TITLE_PREFILL_MAX)
        form = with_author_contact(self._defaults.blank_form(title=title), author)
        # Triage from memory: the channel's defaults, and the company of an author already looked up.
        form = self._triage.with_channel_defaults(form, source.channel_id)
        return self._with_company(form, [form.contact_email])

    def _with_company(self, form: FeedbackForm, emails_or_domains: list[str | None]) -> FeedbackForm:
        if form.company_id or Field.COMPANY not in self._triage.fields():
            return form
        return self._triage.with_company(form, self._triage.company_for(emails_or_domains))

    def open_for_message(self, trigger_id: str, submitter_id: str, source: SourceMessage) -> None:
        reason = why_not_feedback(source, bot_user_id=self._identity.user_id, bot_id=self._identity.bot_id)
        if reason:
            self._client.views_open(trigger_id=trigger_id, view=message_modal("Can't send this", reason))
            return
        draft = self._new_draft(submitter_id, source=source)
        cached = CachedNames(self._lookups)
        author = self._lookups.cached(self._lookups.users, source.author_id) if source.author_id else None
        already_sent = self._already_sent(source)
        already = (already_sent,) if already_sent else ()
        notices = already + ((LOOKING_UP,) if source.author_id and author is None else ())
        form = self._form_from(source, author, cached)
        triage = self._triage.view(form)
        view = self._open(trigger_id, message_content(draft, form, cached, notices, triage=triage))
        if view is None:
            return
        # Everything below may be slow; the modal is already on the person's screen.
        self._fill_in(view, draft, source, form, already)

    def _fill_in(
        self,
        view: dict[str, Any],
        draft: Draft,
        source: SourceMessage,
        form: FeedbackForm,
        notices: tuple[str, ...],
    ) -> None:
        author = self._lookups.user(source.author_id) if source.author_id else None
        self._lookups.channel(source.channel_id)
        self._lookups.permalink(source.channel_id, source.ts)
        # A reply does not say how long its thread is; its parent does.
        size = (
            self._lookups.thread_size(source.channel_id, source.thread_ts)
            if source.in_thread and source.thread_size is None
            else None
        )
        opened = form
        form = with_author_contact(form, author)
        form = self._with_company(form, [form.contact_email])
        if not form.company_id and Field.COMPANY in self._triage.fields():
            form = self._with_company(form, list(self._external_domains(source, author)))
        if Field.ASSIGNEE in self._triage.fields():
            # The submitter comes first among the assignees suggested: their email, cached.
            self._lookups.user(draft.submitter_id)
        filled_later = frozenset(
            field
            for field, before, after in (
                (Field.CONTACT_EMAIL, opened.contact_email, form.contact_email),
                (Field.CONTACT_NAME, opened.contact_name, form.contact_name),
                (Field.COMPANY, opened.company_id, form.company_id),
            )
            if not before and after
        )
        content = replace(
            message_content(draft, form, self._lookups, notices, size, self._triage.view(form)),
            filled_later=filled_later,
        )
        try:
            self._client.views_update(
                view_id=view.get("id"), hash=view.get("hash"), view=feedback_modal(content)
            )
        except SlackApiError as error:
            # hash_conflict: the view changed meanwhile; the person's own input wins.
            log.info("views.update skipped: %s", error.response.get("error"))

    def _external_domains(self, source: SourceMessage, author: SlackUser | None) -> Iterator[str]:
        """In a Slack Connect channel, the email domains of the external organization: its
        author's, else those Slack gives for the author's workspace or the channel's other
        workspaces (team.info). Looked up only as far as needed (the caller stops at a match)."""
        channel = self._lookups.channel(source.channel_id)
        if not source.author_is_external and not (channel and channel.is_shared):
            return
        if source.author_is_external and author and author.email:
            yield author.email
        teams = [source.author_team_id] if source.author_is_external else []
        teams += list(channel.connected_team_ids) if channel else []
        ours = source.workspace_team_id or self._identity.team_id
        for team in dict.fromkeys(team for team in teams if team and team != ours):
            yield from self._lookups.team_email_domains(team)

    def open_blank(
        self, trigger_id: str, submitter_id: str, text: str = "", channel_id: str | None = None
    ) -> None:
        draft = self._new_draft(submitter_id, confirm_channel_id=channel_id)
        feedback = mrkdwn_to_rich_text(text) if text.strip() else None
        form = self._triage.with_channel_defaults(self._defaults.blank_form(feedback=feedback), channel_id)
        triage = self._triage.view(form)
        self._open(trigger_id, message_content(draft, form, CachedNames(self._lookups), triage=triage))
        if Field.ASSIGNEE in triage.fields:
            # After the modal is open: the submitter's email, for the assignees suggested first.
            self._lookups.user(submitter_id)

    def open_again(
        self,
        trigger_id: str,
        submitter_id: str,
        form: FeedbackForm,
        source: SourceMessage | None,
        confirm_channel_id: str | None,
        replaces_item_id: str | None = None,
    ) -> None:
        """Reopen the modal with everything the person entered before (Edit and resend).

        ``replaces_item_id``: the refused item; sending the reopened modal supersedes it.
        """
        draft = self._new_draft(
            submitter_id,
            source=source,
            confirm_channel_id=confirm_channel_id,
            replaces_item_id=replaces_item_id,
        )
        # Only cached names: the trigger expires in 3 seconds, lookups could take longer.
        content = message_content(draft, form, CachedNames(self._lookups), triage=self._triage.view(form))
        self._open(trigger_id, content)

    def open_edit(self, trigger_id: str, editor_id: str, target: EditTarget) -> None:
        """ "Edit details": the thread's title and pain level, and its triage fields,
        prefilled with what it says now; saving changes the thread that outbox item
        created."""
        draft = self._new_draft(
            editor_id, source=target.source, edits_item_id=target.item_id, form=target.form
        )
        content = replace(
            message_content(
                draft, target.form, CachedNames(self._lookups), triage=self._triage.view(target.form)
            ),
            editing=True,
            offer_thread=False,
        )
        self._open(trigger_id, content)

"""Triage for the Slack side: which fields the modal shows, what they start with, and what a
submission chose. Everything here reads memory only (the catalog, the channel settings): it runs
while a modal opens and on a submission's ack.

Preselection, first match wins:
1. the channel's company (its settings);
2. the company whose domain is the contact email's domain (or a parent domain of it);
3. in a Slack Connect channel, the company of the external organization: its author's email
   domain, else the email domain Slack gives for the connected team (`team.info`).
The first comes with the modal; the others once the author is looked up (the modal's fill-in).
The channel's default tags and pain level come with the modal too. The assignee is not
preselected; the submitter is suggested first (see `bot.triage.suggest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.catalog import Catalog, Entry, Kind
from bot.channels.defaults import with_channel_defaults
from bot.channels.model import ChannelSettings, ChannelSettingsSource, NoChannelSettings
from bot.feedback.form import FeedbackForm, Field
from bot.triage.fields import Choice, TriageView, link_choice, read_triage
from bot.triage.suggest import suggestions

__all__ = ["FIELD_KINDS", "Triage"]

# What each field needs the catalog to hold.
FIELD_KINDS: dict[Field, tuple[Kind, ...]] = {
    Field.COMPANY: (Kind.COMPANIES,),
    Field.LINK: (Kind.ISSUES, Kind.PROJECTS),
    Field.TAGS: (Kind.TAGS,),
    Field.ASSIGNEE: (Kind.MEMBERS,),
}
_ID_KINDS = {
    "company_id": Kind.COMPANIES,
    "issue_id": Kind.ISSUES,
    "project_id": Kind.PROJECTS,
    "assignee_id": Kind.MEMBERS,
}


class Triage:
    def __init__(self, catalog: Catalog, channels: ChannelSettingsSource | None = None) -> None:
        self.catalog = catalog
        self._channels = channels or NoChannelSettings()

    # -- the modal -------------------------------------------------------------------------------

    def fields(self) -> frozenset[Field]:
        """The triage fields worth showing now: those whose lists the key reads and are not empty."""
        self.catalog.wanted()
        return frozenset(
            field
            for field, kinds in FIELD_KINDS.items()
            if any(self.catalog.available(kind) for kind in kinds)
        )

    def view(self, form: FeedbackForm) -> TriageView:
        """The fields to show, starting with what the form holds (named as the catalog names them)."""
        shown = self.fields()
        if not shown:
            return TriageView()
        tags = tuple(
            Choice(tag, label) for tag in form.tag_ids if (label := self._label(Kind.TAGS, tag, form))
        )
        return TriageView(
            fields=shown,
            company=self._choice(Kind.COMPANIES, form.company_id, form),
            link=link_choice(
                form,
                lambda target: self._label(Kind.ISSUES if form.issue_id else Kind.PROJECTS, target, form),
            ),
            tags=tags,
            assignee=self._choice(Kind.MEMBERS, form.assignee_id, form),
        )

    def _label(self, kind: Kind, item_id: str, form: FeedbackForm) -> str | None:
        return self.catalog.name(kind, item_id) or form.triage_names.get(item_id)

    def _choice(self, kind: Kind, item_id: str | None, form: FeedbackForm) -> Choice | None:
        if not item_id:
            return None
        label = self._label(kind, item_id, form)
        return Choice(item_id, label) if label else None

    def settings(self, channel_id: str | None) -> ChannelSettings | None:
        return self._channels.for_channel(channel_id) if channel_id else None

    def with_channel_defaults(self, form: FeedbackForm, channel_id: str | None) -> FeedbackForm:
        """A new form with the channel's company, tags and pain level (where it has them)."""
        return with_channel_defaults(form, self.settings(channel_id))

    def company_for(self, emails_or_domains: Iterable[str | None]) -> Entry | None:
        """The first company whose domain one of these has (emails or bare domains, in order)."""
        for value in emails_or_domains:
            found = self.catalog.company_for_domain(value) if value else None
            if found is not None:
                return found
        return None

    def prefill(self, form: FeedbackForm, channel_id: str | None) -> FeedbackForm:
        """What feedback filed without a modal (an emoji reaction) is sent with: the channel's
        defaults, else the company of the contact's email domain."""
        form = self.with_channel_defaults(form, channel_id)
        return self.with_company(form, self.company_for([form.contact_email]))

    @staticmethod
    def with_company(form: FeedbackForm, company: Entry | None) -> FeedbackForm:
        if company is None or form.company_id:
            return form
        names = {**form.triage_names, company.id: company.name}
        return form.model_copy(update={"company_id": company.id, "triage_names": names})

    # -- the submission --------------------------------------------------------------------------

    def read(self, values: Mapping[str, Any], form: FeedbackForm, channel_id: str | None) -> FeedbackForm:
        """The form with what the triage fields chose. A field the modal did not show takes the
        channel's default (its company, its tags), as the modal would have started with it."""
        choices = read_triage(values)
        form = choices.apply(form, self._name_for)
        hidden = {Field.COMPANY, Field.TAGS} - choices.shown
        if hidden:
            settings = self.settings(channel_id)
            if settings is not None:
                update: dict[str, Any] = {}
                if Field.COMPANY in hidden and settings.company_id:
                    update["company_id"] = settings.company_id
                if Field.TAGS in hidden and settings.tag_ids:
                    update["tag_ids"] = tuple(settings.tag_ids)
                form = form.model_copy(update=update) if update else form
        return form

    def knows_tag(self, tag_id: str) -> bool:
        return self.catalog.get(Kind.TAGS, tag_id) is not None

    def _name_for(self, item_id: str, label: str) -> str:
        for kind in Kind:
            name = self.catalog.name(kind, item_id)
            if name:
                return name
        return label

    def names(self, form: FeedbackForm) -> dict[str, str]:
        """Names for the form's ids that it has none for yet (from the catalog, as it is now)."""
        ids: list[tuple[Kind, str | None]] = [(kind, getattr(form, key)) for key, kind in _ID_KINDS.items()]
        ids += [(Kind.TAGS, tag) for tag in form.tag_ids]
        found = {}
        for kind, item_id in ids:
            if item_id and item_id not in form.triage_names:
                name = self.catalog.name(kind, item_id)
                if name:
                    found[item_id] = name
        return found

    # -- options requests ------------------------------------------------------------------------

    def suggest(self, action_id: str, query: str, submitter_email: str | None = None) -> dict[str, Any]:
        return suggestions(self.catalog, action_id, query, submitter_email)

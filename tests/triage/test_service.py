"""Triage on the Slack side, from memory: which fields show, what they start with (the channel's
company first, then the contact's domain), what a submission chose, and a channel's defaults for a
field the modal did not show."""

from __future__ import annotations

from collections.abc import Sequence

from bot.catalog import Catalog, Entry, Kind
from bot.channels.model import ChannelSettings
from bot.feedback.form import FeedbackForm, Field
from bot.productlane.models import PainLevel
from bot.triage.fields import Choice, read_triage
from bot.triage.service import Triage

FULL = Catalog.of(
    {
        Kind.COMPANIES: [
            Entry("co_cust", "Customer Co", aliases=("customer.example",)),
            Entry("co_big", "Big Customer", aliases=("bigcustomer.example",)),
        ],
        Kind.ISSUES: [Entry("is_1", "CSV export stalls")],
        Kind.PROJECTS: [Entry("pr_1", "Exports v2")],
        Kind.TAGS: [Entry("t_exp", "export"), Entry("t_ent", "enterprise")],
        Kind.MEMBERS: [Entry("u_d", "Dana", aliases=("dana@acme.example",))],
    }
)


class Settings:
    def __init__(self, *channels: ChannelSettings) -> None:
        self._by_id = {c.channel: c for c in channels}

    def for_channel(self, channel_id: str) -> ChannelSettings | None:
        return self._by_id.get(channel_id)

    def all(self) -> Sequence[ChannelSettings]:
        return list(self._by_id.values())


def test_a_field_shows_only_when_its_list_is_readable_and_not_empty() -> None:
    assert Triage(FULL).fields() == {Field.COMPANY, Field.LINK, Field.TAGS, Field.ASSIGNEE}
    partial = Catalog.of({Kind.PROJECTS: [Entry("pr_1", "Exports v2")], Kind.TAGS: []})
    assert Triage(partial).fields() == {Field.LINK}
    assert Triage(Catalog.off()).fields() == frozenset()
    assert Triage(Catalog.off()).view(FeedbackForm()).fields == frozenset()


def test_the_channels_company_wins_over_the_contacts_domain() -> None:
    triage = Triage(
        FULL,
        Settings(
            ChannelSettings(channel="C1", company_id="co_big", tag_ids=("t_ent",), pain_level=PainLevel.HIGH)
        ),
    )
    form = triage.with_channel_defaults(FeedbackForm(contact_email="jane@customer.example"), "C1")
    form = triage.with_company(form, triage.company_for([form.contact_email]))
    assert (form.company_id, form.tag_ids, form.pain_level) == ("co_big", ("t_ent",), PainLevel.HIGH)
    view = triage.view(form)
    assert view.company == Choice("co_big", "Big Customer")
    assert view.tags == (Choice("t_ent", "enterprise"),)

    elsewhere = triage.with_channel_defaults(FeedbackForm(contact_email="jane@customer.example"), "C2")
    elsewhere = triage.with_company(elsewhere, triage.company_for([elsewhere.contact_email]))
    assert elsewhere.company_id == "co_cust"
    assert triage.company_for(["kim@eu.mail.bigcustomer.example"]) == Entry(
        "co_big", "Big Customer", aliases=("bigcustomer.example",)
    )
    assert triage.company_for([None, "nobody@nowhere.example"]) is None


def test_a_submission_is_read_into_the_form_with_the_names_shown() -> None:
    values = {
        "company.filled": {"triage_company": {"type": "external_select", "selected_option": None}},
        "link": {
            "triage_link": {
                "type": "external_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Exports v2"},
                    "value": "project:pr_1",
                },
            }
        },
        "tags": {
            "triage_tags": {
                "type": "multi_external_select",
                "selected_options": [{"text": {"type": "plain_text", "text": "export"}, "value": "t_exp"}],
            }
        },
    }
    choices = read_triage(values)
    assert choices.shown == {Field.COMPANY, Field.LINK, Field.TAGS}
    form = Triage(FULL).read(values, FeedbackForm(company_id="co_old"), "C1")
    assert form.company_id is None  # the person cleared it
    assert (form.issue_id, form.project_id, form.tag_ids, form.assignee_id) == (
        None,
        "pr_1",
        ("t_exp",),
        None,
    )
    assert form.triage_names == {"pr_1": "Exports v2", "t_exp": "export"}


def test_a_field_the_modal_did_not_show_takes_the_channels_default() -> None:
    triage = Triage(
        Catalog.off(), Settings(ChannelSettings(channel="C1", company_id="co_big", tag_ids=("t_ent",)))
    )
    assert triage.read({}, FeedbackForm(), "C1").model_dump(include={"company_id", "tag_ids"}) == {
        "company_id": "co_big",
        "tag_ids": ("t_ent",),
    }
    assert triage.read({}, FeedbackForm(), None).company_id is None


def test_names_come_from_the_catalog_for_ids_the_form_has_none_for() -> None:
    form = FeedbackForm(company_id="co_cust", tag_ids=("t_exp", "t_gone"), triage_names={"t_exp": "Export"})
    assert Triage(FULL).names(form) == {"co_cust": "Customer Co"}

"""List items read defensively: an id and a name are enough, anything else helps when it is there."""

from __future__ import annotations

from bot.catalog import Entry, Kind, domain_of
from bot.catalog.entries import entry_from


def test_a_company_from_the_documented_shape() -> None:
    raw = {"id": "co_1", "name": "Acme", "domains": ["acme.example", "https://www.Acme.io/about"], "size": 12}
    assert entry_from(Kind.COMPANIES, raw) == Entry("co_1", "Acme", aliases=("acme.example", "acme.io"))


def test_a_company_with_one_domain_or_none_or_only_a_domain() -> None:
    assert entry_from(Kind.COMPANIES, {"id": "co_1", "name": "Acme", "domain": "acme.example"}) == Entry(
        "co_1", "Acme", aliases=("acme.example",)
    )
    assert entry_from(Kind.COMPANIES, {"id": "co_2", "name": "Beta", "domains": None}) == Entry(
        "co_2", "Beta"
    )
    assert entry_from(Kind.COMPANIES, {"id": "co_3", "domains": ["gamma.example"]}) == Entry(
        "co_3", "gamma.example", aliases=("gamma.example",)
    )


def test_issues_and_projects_by_name_or_title_and_their_finished_state() -> None:
    assert entry_from(Kind.ISSUES, {"id": 42, "title": "Crash", "identifier": "ENG-42"}) == Entry(
        "42", "Crash", aliases=("ENG-42",)
    )
    assert entry_from(Kind.ISSUES, {"id": "is_1", "name": "Done", "status": "completed"}) == Entry(
        "is_1", "Done", closed=True
    )
    assert entry_from(Kind.PROJECTS, {"id": "pr_1", "name": "P", "state": {"type": "canceled"}}) == Entry(
        "pr_1", "P", closed=True
    )
    assert entry_from(
        Kind.PROJECTS, {"id": "pr_2", "name": "Q", "completed_at": "2025-01-01T00:00:00Z"}
    ) == Entry("pr_2", "Q", closed=True)


def test_members_by_name_or_email() -> None:
    assert entry_from(Kind.MEMBERS, {"id": "u1", "name": "Dana", "email": "Dana@Acme.example"}) == Entry(
        "u1", "Dana", aliases=("dana@acme.example",)
    )
    assert entry_from(Kind.MEMBERS, {"id": "u2", "email": "sam@acme.example"}) == Entry(
        "u2", "sam@acme.example", aliases=("sam@acme.example",)
    )


def test_items_that_cannot_be_offered_are_skipped() -> None:
    assert entry_from(Kind.TAGS, {"name": "no id"}) is None
    assert entry_from(Kind.TAGS, {"id": "t1"}) is None
    assert entry_from(Kind.TAGS, {"id": "t1", "name": "   "}) is None
    assert entry_from(Kind.TAGS, {"id": True, "name": "bool id"}) is None
    assert entry_from(Kind.TAGS, {"id": "x" * 141, "name": "id too long for an option value"}) is None
    assert entry_from(Kind.MEMBERS, {"id": "u3", "name": "Gone", "deleted_at": "2025-01-01"}) is None
    assert entry_from(Kind.MEMBERS, {"id": "u4", "name": "Off", "is_active": False}) is None


def test_domains_from_emails_urls_and_names() -> None:
    assert domain_of("jane@Mail.Customer.example") == "mail.customer.example"
    assert domain_of("https://www.acme.io:443/x") == "acme.io"
    assert domain_of("localhost") is None

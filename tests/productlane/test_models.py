import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.productlane import (
    CreateThread,
    Me,
    Notify,
    PainLevel,
    Thread,
    ThreadOrigin,
    ThreadPage,
    ThreadStatus,
    ThreadTab,
)
from tests.fakes.productlane import ORIGINS, validate_create_thread

FIXTURES = Path(__file__).parent.parent / "fixtures" / "productlane"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# --------------------------------------------------------------------------- CreateThread


def test_minimal_request_sends_only_required_fields_and_pain_level():
    request = CreateThread(text="<p>Hi</p>", contact_email="jane@customer.example")
    assert request.to_json() == {
        "text": "<p>Hi</p>",
        "pain_level": "UNKNOWN",
        "contact_email": "jane@customer.example",
    }


def test_full_request_serialises_every_documented_field():
    request = CreateThread(
        text="<p>Export times out</p>",
        pain_level=PainLevel.HIGH,
        contact_email="jane@customer.example",
        title="Export to CSV times out",
        status=ThreadStatus.snoozed,
        origin=ThreadOrigin.slack,
        contact_name="Jane Doe",
        assignee_id="usr_1",
        company_id="co_1",
        project_id="pr_1",
        issue_id="is_1",
        created_at=datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC),
        updated_at=datetime(2023, 11, 7, 7, 31, 56, tzinfo=timezone(timedelta(hours=2))),
        notify=Notify(slack=True, email=False),
    )
    body = request.to_json()
    assert body == {
        "text": "<p>Export times out</p>",
        "pain_level": "HIGH",
        "contact_email": "jane@customer.example",
        "title": "Export to CSV times out",
        "status": "snoozed",
        "origin": "slack",
        "contact_name": "Jane Doe",
        "assignee_id": "usr_1",
        "company_id": "co_1",
        "project_id": "pr_1",
        "issue_id": "is_1",
        "created_at": "2023-11-07T05:31:56Z",
        "updated_at": "2023-11-07T05:31:56Z",  # converted to UTC
        "notify": {"slack": True, "email": False},
    }
    assert body == request.model_dump(mode="json", exclude_none=True)
    assert validate_create_thread(body) == []  # the fake's independent reading agrees


def test_origin_enum_has_all_17_documented_values():
    assert len(ThreadOrigin) == 17
    assert {o.value for o in ThreadOrigin} == set(ORIGINS)


@pytest.mark.parametrize("enum", [PainLevel, ThreadStatus, ThreadTab, ThreadOrigin])
def test_member_names_are_the_wire_values(enum):
    for member in enum:
        assert member.name == member.value.replace("-", "_")


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"text": ""}, "text"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"title": "x" * 513}, "title"),
        ({"pain_level": "CRITICAL"}, "pain_level"),
        ({"status": "closed"}, "status"),
        ({"origin": "teams"}, "origin"),
        ({"created_at": datetime(2023, 1, 1)}, "created_at"),  # naive: no time zone
        ({"notify": {"slack": "yes"}}, "notify"),
        ({"notify": {"slack": True, "sms": True}}, "notify"),
        ({"priority": 1}, "priority"),  # extra="forbid"
    ],
)
def test_request_limits_are_enforced(fields, where):
    base = {"text": "t", "contact_email": "jane@customer.example"}
    with pytest.raises(pydantic.ValidationError) as info:
        CreateThread.model_validate({**base, **fields})
    assert where in {str(err["loc"][0]) for err in info.value.errors()}


def test_required_fields_are_required():
    with pytest.raises(pydantic.ValidationError) as info:
        CreateThread.model_validate({})
    assert {err["loc"][0] for err in info.value.errors()} == {"text", "contact_email"}


def test_title_of_exactly_512_characters_is_accepted():
    request = CreateThread(text="t", contact_email="a@b.co", title="x" * 512)
    assert validate_create_thread(request.to_json()) == []


_ascii_emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9](?:[a-z0-9_+\-]{0,10}[a-z0-9])?", fullmatch=True),
    # no "--": email_validator (rightly) refuses IDNA-reserved labels such as "ab--c"
    st.from_regex(r"[a-z][a-z0-9]{0,5}(?:-[a-z0-9]{1,5})?", fullmatch=True),
    st.sampled_from(["com", "io", "example", "co", "dev"]),
)


@given(
    text=st.text(min_size=1, max_size=200),
    title=st.none() | st.text(max_size=512),
    email=_ascii_emails,
    pain=st.sampled_from(PainLevel),
    status=st.none() | st.sampled_from(ThreadStatus),
    origin=st.none() | st.sampled_from(ThreadOrigin),
    notify=st.none() | st.builds(Notify, slack=st.booleans(), email=st.booleans()),
    created=st.none()
    | st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
    ),
)
def test_every_valid_request_satisfies_the_documented_contract(
    text, title, email, pain, status, origin, notify, created
):
    request = CreateThread(
        text=text,
        title=title,
        contact_email=email,
        pain_level=pain,
        status=status,
        origin=origin,
        notify=notify,
        created_at=created,
    )
    body = request.to_json()
    assert validate_create_thread(body) == []
    assert CreateThread.model_validate(body) == request  # round-trips


# --------------------------------------------------------------------------- Thread


def test_fixture_thread_parses_with_nulls():
    thread = Thread.model_validate(load("thread_created.json"))
    assert thread.id == "th_01HZX0000000000000000042"
    assert thread.created_at == datetime(2026, 11, 27, 14, 15, tzinfo=UTC)
    assert thread.pain_level is PainLevel.HIGH
    assert thread.status is ThreadStatus.open
    assert thread.tab is ThreadTab.new
    assert thread.origin == "slack"
    assert thread.assignee is None
    assert thread.snoozed_until is None
    assert thread.contact is not None
    assert thread.contact.email == "jane@customer.example"
    assert thread.contact.external_ids is not None
    assert thread.contact.external_ids.slack_channel is None
    assert thread.company is not None
    assert thread.company.owner is None
    assert thread.company.domains == ["customer.example"]
    assert thread.reporter is not None
    assert thread.reporter.name == "API"
    assert thread.tags == []
    assert thread.ai_draft_sources is None


def test_thread_tolerates_new_fields_and_new_enum_values():
    raw = load("thread_created.json")
    raw.update(
        url="https://productlane.com/feedback/th_1",
        pain_level="CRITICAL",
        status="archived",
        tab="later",
        origin="teams",
    )
    raw["company"]["owner"] = {"id": "usr_9", "name": "Owner", "avatar_url": None, "x": 1}
    raw["tags"] = [{"id": "tag_1", "name": "bug", "color": None, "icon": None, "extra": True}]
    raw["customer_needs"] = [{"id": "cn_1", "thread_id": "th_1", "priority": 2.5}]
    thread = Thread.model_validate(raw)
    assert thread.pain_level == "CRITICAL"
    assert thread.status == "archived"
    assert thread.model_extra == {"url": "https://productlane.com/feedback/th_1"}
    assert thread.company is not None
    assert thread.company.owner is not None
    assert thread.company.owner.name == "Owner"
    assert thread.tags[0].name == "bug"
    assert thread.customer_needs[0].priority == 2.5


def test_thread_accepts_nulls_everywhere_the_api_may_send_them():
    raw = load("thread_created.json")
    for key in ("title", "contact", "company", "assignee", "reporter", "external_ids", "is_read"):
        raw[key] = None
    thread = Thread.model_validate(raw)
    assert thread.contact is None
    assert thread.company is None


@pytest.mark.parametrize("missing", ["id", "created_at", "updated_at", "text"])
def test_thread_core_fields_stay_required(missing):
    raw = load("thread_created.json")
    del raw[missing]
    with pytest.raises(pydantic.ValidationError):
        Thread.model_validate(raw)


# --------------------------------------------------------------------------- Me, ThreadPage


def test_me_fixture_and_has_scope():
    me = Me.model_validate(load("me.json"))
    assert me.workspace_id == "ws_01HZX0000000000000000001"
    assert me.default_linear_team_id is None
    assert me.has_scope("threads:write")
    assert not me.has_scope("threads:delete")


def test_thread_page_parses():
    page = ThreadPage.model_validate(
        {
            "data": [load("thread_created.json")],
            "page": {"cursor": None, "has_more": False, "limit": 50},
        }
    )
    assert page.data[0].id == "th_01HZX0000000000000000042"
    assert page.page.cursor is None
    assert page.page.has_more is False

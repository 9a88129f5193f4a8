"""What delivery makes of Productlane's refusals and of Edit details, without Productlane."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Submission
from bot.productlane import (
    CreateThread,
    NotFoundError,
    ServerError,
    ThreadOrigin,
    UpdateThread,
    ValidationError,
)
from bot.triage.delivery import (
    applied,
    dropped_note,
    edited_fields,
    stale_fields,
    stale_tag_ids,
    update_fields,
    without_fields,
    without_stale_changes,
)

ALL = ["company_id", "issue_id", "project_id", "assignee_id"]


def test_a_400_names_its_fields_in_the_details() -> None:
    error = ValidationError(
        "Validation failed.",
        status=400,
        details=[
            {"path": "company_id", "message": "Company not found"},
            {"path": "assignee_id", "message": "x"},
        ],
    )
    assert stale_fields(error, ALL) == {"company_id", "assignee_id"}
    # A field named that the request did not carry is not "stale".
    assert stale_fields(error, ["issue_id"]) == set()
    # Details naming something else: not about our ids, even if the message says "company".
    other = ValidationError(
        "company contact invalid", status=400, details=[{"path": "contact_email", "message": "x"}]
    )
    assert stale_fields(other, ALL) == set()


def test_a_404_without_details_is_read_from_its_message() -> None:
    assert stale_fields(NotFoundError("Issue not found.", status=404), ALL) == {"issue_id"}
    assert stale_fields(NotFoundError("Thread not found.", status=404), ALL) == set()
    assert stale_fields(NotFoundError("Not found", status=404, details={"field": "project_id"}), ALL) == {
        "project_id"
    }
    assert stale_fields(ServerError("company", status=500), ALL) == set()


def test_stale_tags_by_index_else_by_the_catalog_else_all() -> None:
    tags = ["t1", "t2", "t3"]
    by_index = ValidationError("x", status=400, details=[{"path": "tag_ids.1", "message": "Tag not found"}])
    assert stale_tag_ids(by_index, tags, lambda tag: True) == ["t2"]
    vague = ValidationError("x", status=400, details=[{"path": "tag_ids", "message": "Tag not found"}])
    assert stale_tag_ids(vague, tags, lambda tag: tag != "t3") == ["t3"]
    assert stale_tag_ids(vague, tags, lambda tag: True) == tags
    assert stale_tag_ids(NotFoundError("Thread not found.", status=404), tags, lambda tag: True) == []


def request(**fields: object) -> CreateThread:
    return CreateThread.model_validate(
        {"text": "<p>x</p>", "contact_email": "jane@customer.example", "origin": "slack", **fields}
    )


def test_a_request_without_the_fields_left_out_and_the_note_naming_them_outside_slack_connect() -> None:
    sent = request(company_id="co_1", issue_id="is_1")
    assert without_fields(sent, ["company_id"]).to_json().get("company_id") is None
    assert without_fields(sent, ["company_id"]).issue_id == "is_1"
    form = FeedbackForm(company_id="co_1", triage_names={"co_1": "Acme"})
    assert dropped_note("company_id", form, True) == (
        "The company “Acme” was left out: Productlane no longer knows it (deleted since it was chosen?)."
    )
    assert "Acme" not in dropped_note("company_id", form, False)


def submission(form: FeedbackForm) -> Submission:
    return Submission(key="k", submitter_id="U1", form=form, submitted_at=datetime.now(UTC))


def test_the_confirmation_shows_what_productlane_took() -> None:
    sent = submission(FeedbackForm(company_id="co_1", issue_id="is_1", tag_ids=("t1", "t2")))
    landed = applied(
        sent, {"triage_dropped": ["company_id"], "tags_state": "done", "tag_ids": ["t2"]}, {"is_1": "Crash"}
    )
    assert (landed.form.company_id, landed.form.issue_id, landed.form.tag_ids) == (None, "is_1", ("t2",))
    assert landed.form.triage_names == {"is_1": "Crash"}
    assert applied(sent, {}) is sent


def test_edit_details_sends_only_what_changed() -> None:
    before = FeedbackForm(company_id="co_1", assignee_id="u1", tag_ids=("t1",), issue_id="is_1")
    after = before.model_copy(
        update={"company_id": None, "tag_ids": ("t1", "t2"), "project_id": "pr_1", "issue_id": None}
    )
    changed = edited_fields(before, after)
    assert changed == ("company_id", "link", "tag_ids")
    assert update_fields(after, changed) == {
        "company_id": None,
        "tag_ids": ["t1", "t2"],
        "project_id": "pr_1",
    }
    body = UpdateThread(title="T", pain_level="HIGH", **update_fields(after, changed)).to_json()
    assert body == {
        "title": "T",
        "pain_level": "HIGH",
        "company_id": None,
        "tag_ids": ["t1", "t2"],
        "project_id": "pr_1",
    }
    assert "assignee_id" not in body
    assert edited_fields(before, before) == ()


def test_a_stale_choice_in_an_edit_is_left_out_of_the_patch() -> None:
    change = UpdateThread(title="T", company_id="co_gone", tag_ids=["t1", "t_gone"])
    error = ValidationError("x", status=400, details=[{"path": "tag_ids.1", "message": "Tag not found"}])
    form = FeedbackForm(triage_names={"t_gone": "old tag"})
    narrowed = without_stale_changes(change, error, form)
    assert narrowed is not None
    patch, names, note = narrowed
    assert patch.to_json() == {"title": "T", "company_id": "co_gone", "tag_ids": ["t1"]}
    assert names == ["tag_ids"]
    assert "“old tag”" in note
    assert without_stale_changes(change, NotFoundError("Thread not found.", status=404), form) is None


def test_the_origin_decides_whether_names_are_shown() -> None:
    from bot.triage.delivery import names_shown

    assert names_shown(request())
    assert not names_shown(request(origin=ThreadOrigin.slack_connect.value))

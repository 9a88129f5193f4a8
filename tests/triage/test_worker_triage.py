"""The delivery worker with triage fields, against the fake Productlane: ids on the create, tags by
one PATCH after it, choices Productlane no longer knows left out with a note — whatever way
Productlane says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.feedback.capture import Captured
from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Submission
from bot.productlane import CreateThread, PainLevel, UpdateThread
from tests.delivery.worker_rig import Rig, TitleComposer, make_rig
from tests.fakes.productlane import FakeProductlane
from tests.triage.workspace import SCOPES, Seeded, seed

pytestmark = pytest.mark.timeout(60)


class TriageComposer(TitleComposer):
    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        form = submission.form
        return (
            super()
            .compose(submission, captured)
            .model_copy(
                update={
                    "company_id": form.company_id,
                    "issue_id": form.issue_id,
                    "project_id": form.project_id,
                    "assignee_id": form.assignee_id,
                }
            )
        )

    def update(self, edit: Submission) -> UpdateThread:
        return super().update(edit)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[Rig, Seeded]]:
    with FakeProductlane(scopes=SCOPES) as productlane:
        ids = seed(productlane)
        rig = make_rig(tmp_path, productlane, composer=TriageComposer())
        rig.worker.start()
        yield rig, ids
        rig.close()


def submission(title: str, **triage: object) -> Submission:
    form = FeedbackForm(
        title=title, contact_email="jane@customer.example", pain_level=PainLevel.LOW, **triage
    )
    return Submission(key=f"V-{title}", submitter_id="U0CSM0002", form=form, submitted_at=datetime.now(UTC))


def test_an_issue_productlane_answers_404_for_is_left_out_and_the_rest_goes(
    workspace: tuple[Rig, Seeded],
) -> None:
    rig, ids = workspace
    rig.productlane.catalog.stale_status = 404
    rig.productlane.catalog.remove("issues", ids["pdf_issue"])
    rig.intake.accept(
        submission(
            "PDF tables cut",
            issue_id=ids["pdf_issue"],
            company_id=ids["customer"],
            triage_names={ids["pdf_issue"]: "Export to PDF"},
        )
    )
    rig.wait_settled(1)
    posts = rig.productlane.requests_to("POST", "/threads")
    assert [p.status for p in posts] == [404, 201]
    assert posts[-1].json["company_id"] == ids["customer"]
    assert "issue_id" not in posts[-1].json
    assert rig.notifier.notes == [
        [
            "The linked issue “Export to PDF” was left out: "
            "Productlane no longer knows it (deleted since it was chosen?)."
        ]
    ]


def test_a_tag_deleted_meanwhile_is_left_out_and_the_others_are_set(workspace: tuple[Rig, Seeded]) -> None:
    rig, ids = workspace
    rig.productlane.catalog.remove("tags", ids["churn_tag"])
    rig.intake.accept(
        submission(
            "Export needs filters",
            tag_ids=(ids["export_tag"], ids["churn_tag"]),
            triage_names={ids["churn_tag"]: "churn risk"},
        )
    )
    rig.wait_settled(1)
    thread = rig.productlane.threads[0]
    patches = rig.productlane.requests_to("PATCH", f"/threads/{thread['id']}")
    assert [(p.status, p.json) for p in patches] == [
        (400, {"tag_ids": [ids["export_tag"], ids["churn_tag"]]}),
        (200, {"tag_ids": [ids["export_tag"]]}),
    ]
    assert [tag["name"] for tag in thread["tags"]] == ["export"]
    assert rig.notifier.notes == [
        ["The tag “churn risk” was left out: not found in Productlane (deleted since it was chosen?)."]
    ]
    item = rig.outbox.list_items()[0]
    assert item.result is not None
    assert (item.result["tags_state"], item.result["tag_ids"]) == ("done", [ids["export_tag"]])


def test_a_rate_limited_tags_patch_waits_and_goes_once(workspace: tuple[Rig, Seeded]) -> None:
    rig, ids = workspace
    # A quarter of a second (Productlane's Retry-After may be any number): five times the rig's
    # backoff, so a patch sent again without waiting it out would come far sooner.
    rig.productlane.fail_next(429, retry_after=0.25, method="PATCH")
    rig.intake.accept(submission("Rate limited tags", tag_ids=(ids["enterprise_tag"],)))
    rig.wait_settled(1)
    thread = rig.productlane.threads[0]
    assert [tag["id"] for tag in thread["tags"]] == [ids["enterprise_tag"]]
    patches = rig.productlane.requests_to("PATCH", f"/threads/{thread['id']}")
    assert [p.status for p in patches] == [429, 200]
    assert patches[1].time - patches[0].time >= 0.22  # not before Productlane's Retry-After
    assert rig.productlane.created_count == 1
    assert len(rig.notifier.delivered_urls) == 1


def test_no_tags_no_patch(workspace: tuple[Rig, Seeded]) -> None:
    rig, ids = workspace
    rig.intake.accept(submission("Untagged", assignee_id=ids["sam"], project_id=ids["exports_project"]))
    rig.wait_settled(1)
    assert rig.productlane.requests_to("POST", "/threads")[-1].json["assignee_id"] == ids["sam"]
    assert not [r for r in rig.productlane.requests if r.method == "PATCH"]
    assert rig.productlane.threads[0]["customer_needs"][0]["project_id"] == ids["exports_project"]


def test_edit_details_links_an_issue_once_and_says_when_productlane_refuses_it(
    workspace: tuple[Rig, Seeded],
) -> None:
    rig, ids = workspace
    first = rig.intake.accept(submission("Reacted"))
    rig.wait_settled(1)
    thread_id = rig.productlane.threads[0]["id"]

    def edit(key: str, issue: str) -> Submission:
        form = submission("Reacted").form.model_copy(
            update={"issue_id": issue, "triage_names": {issue: "An issue"}}
        )
        return Submission(
            key=key,
            submitter_id="U0CSM0001",
            form=form,
            submitted_at=datetime.now(UTC),
            edits_item_id=first,
            edited_fields=("link",),
        )

    rig.intake.accept(edit("edit:1", ids["csv_issue"]))
    rig.wait_settled(2)
    needs = rig.productlane.requests_to("POST", f"/threads/{thread_id}/customer-needs")
    assert [(n.status, n.json) for n in needs] == [(201, {"issue_ids": [ids["csv_issue"]]})]
    assert [need["issue_id"] for need in rig.productlane.threads[0]["customer_needs"]] == [ids["csv_issue"]]

    rig.productlane.catalog.remove("issues", ids["bulk_issue"])
    rig.intake.accept(edit("edit:2", ids["bulk_issue"]))
    rig.wait_settled(3)
    refused = rig.outbox.list_items()[-1]
    assert refused.result is not None
    assert refused.result["link_state"] == "done"
    assert refused.result["edit_notes"] == [
        "The linked issue “An issue” was left out: "
        "Productlane no longer knows it (deleted since it was chosen?)."
    ]

"""The confirmation's triage line: the company, the link and the tags as Productlane
took them; nothing of the sort in Slack Connect; kept whole when the reply is rendered again with
its status, and a link not named twice."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Submission
from bot.productlane import CreateThread
from bot.slack.replies import confirmation_reply
from bot.triage.confirmation import confirmation_for, triage_summary
from bot.updates.records import confirmation_of
from bot.updates.render import confirmation_with_status
from bot.updates.state import Link, Status

FORM = FeedbackForm(
    title="CSV export stalls",
    contact_email="jane@customer.example",
    company_id="co_1",
    issue_id="is_1",
    tag_ids=("t1", "t2"),
    triage_names={
        "co_1": "Customer Co",
        "is_1": "CSV export stalls at 99%",
        "t1": "export",
        "t2": "enterprise",
    },
)


def submission(form: FeedbackForm = FORM) -> Submission:
    return Submission(key="k", submitter_id="U0CSM0002", form=form, submitted_at=datetime.now(UTC))


def request(origin: str = "slack") -> CreateThread:
    return CreateThread.model_validate(
        {
            "text": "<p>x</p>",
            "title": "CSV export stalls",
            "contact_email": "jane@customer.example",
            "origin": origin,
        }
    )


def text(reply: object) -> str:
    return json.dumps([block.to_dict() for block in reply.blocks], ensure_ascii=False)  # type: ignore[attr-defined]


def test_the_line_names_company_link_and_tags() -> None:
    shown = text(confirmation_reply(confirmation_for(submission(), request(), "https://pl.test/t/1")))
    assert (
        "Pain level: Unknown · Company: Customer Co · Linked to: CSV export stalls at 99% · "
        "Tags: export, enterprise · Contact: jane@customer.example"
    ) in shown


def test_slack_connect_names_none_of_it() -> None:
    shown = text(
        confirmation_reply(confirmation_for(submission(), request("slack_connect"), "https://pl.test/t/1"))
    )
    for internal in ("Customer Co", "CSV export stalls at 99%", "export,", "enterprise", "jane@"):
        assert internal not in shown


def test_ids_without_names() -> None:
    bare = FeedbackForm(company_id="co_1", project_id="pr_1", tag_ids=("t1", "t2", "t3"))
    assert triage_summary(bare).parts == ("Linked to a project", "3 tags")
    many = FeedbackForm(
        tag_ids=tuple(f"t{n}" for n in range(7)), triage_names={f"t{n}": f"tag {n}" for n in range(7)}
    )
    assert triage_summary(many).parts == ("Tags: tag 0, tag 1, tag 2, tag 3, tag 4 and 2 more",)


def test_the_status_rendering_keeps_the_line_and_names_the_link_once() -> None:
    confirmation = confirmation_for(submission(), request(), "https://pl.test/t/1")
    stored = confirmation_of(json.loads(json.dumps(dataclasses.asdict(confirmation))))
    assert stored == confirmation
    same = Link(need_id="cn_1", issue_id="is_1", project_id=None, issue_name="CSV export stalls at 99%")
    other = Link(need_id="cn_2", issue_id=None, project_id="pr_9", project_name="Exports v2")
    shown = text(confirmation_with_status(stored, Status.OPEN, [same, other], is_slack_connect=False))
    assert "Company: Customer Co" in shown
    assert "Status in Productlane: Open · Linked to Exports v2" in shown
    assert shown.count("CSV export stalls at 99%") == 1


def test_a_channel_shared_now_or_that_slack_wont_describe_gets_the_customers_confirmation() -> None:
    internal = confirmation_for(submission(), request(), "https://pl.test/t/1")
    shared = confirmation_for(submission(), request(), "https://pl.test/t/1", in_shared_channel=True)
    shown = text(confirmation_reply(shared))
    for secret in ("Customer Co", "CSV export stalls at 99%", "enterprise", "jane@customer.example"):
        assert secret not in shown
    assert "CSV export stalls" in shown  # its title, and the link, stay
    # The same as a thread filed from a Slack Connect channel, whatever the origin said.
    assert shared == confirmation_for(submission(), request("slack_connect"), "https://pl.test/t/1")
    assert shared.title == internal.title
    assert shared.thread_url == internal.thread_url

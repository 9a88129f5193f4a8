"""Which Slack thread a delivered submission's updates go to."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.feedback.form import FeedbackForm
from bot.feedback.source import source_from_message_shortcut
from bot.feedback.submission import Submission
from bot.productlane import CreateThread, PainLevel, Thread, ThreadOrigin
from bot.updates import thread_record_from_delivery
from bot.updates.render import confirmation_with_status
from bot.updates.state import Status

FIXTURES = Path(__file__).parent.parent / "fixtures"
URL = "https://productlane.test/feedback/th_1"


def submission(with_source: bool = True) -> Submission:
    payload = json.loads((FIXTURES / "slack" / "message_shortcut.json").read_text())
    return Submission(
        key="V1",
        submitter_id="U0CSM0002",
        form=FeedbackForm(title="Export to CSV times out", contact_email="jane@customer.example"),
        source=source_from_message_shortcut(payload) if with_source else None,
        confirm_channel_id=None if with_source else "C0FEEDBACK",
        submitted_at=datetime.now(UTC),
    )


def request(origin: ThreadOrigin = ThreadOrigin.slack) -> CreateThread:
    return CreateThread(
        text="<p>x</p>",
        title="Export to CSV times out",
        pain_level=PainLevel.HIGH,
        contact_email="jane@customer.example",
        contact_name="Jane Doe",
        origin=origin,
    )


def thread(**changes: Any) -> Thread:
    data = json.loads((FIXTURES / "productlane" / "thread_created.json").read_text())
    return Thread.model_validate({**data, "id": "th_1", **changes})


def test_updates_go_where_the_confirmation_landed() -> None:
    reply = {"channel": "C0FEEDBACK", "ts": "1764252999.000200", "thread_ts": "1764252900.000100"}
    record = thread_record_from_delivery(submission(), request(), thread(), URL, reply)
    assert record is not None
    assert (record.channel_id, record.thread_ts) == ("C0FEEDBACK", "1764252900.000100")
    assert (record.reply_channel_id, record.reply_ts) == ("C0FEEDBACK", "1764252999.000200")
    assert record.confirmation.contact == "Jane Doe <jane@customer.example>"
    assert record.confirmation.pain_label == "High"
    assert record.confirmation.thread_url == URL
    assert not record.is_slack_connect
    assert record.status == "open"


def test_a_confirmation_sent_by_dm_gets_its_milestones_under_it() -> None:
    reply = {"channel": "D0CSM0002", "ts": "1764252999.000200", "thread_ts": None}
    record = thread_record_from_delivery(submission(), request(), thread(), URL, reply)
    assert record is not None
    assert (record.channel_id, record.thread_ts) == ("D0CSM0002", "1764252999.000200")


def test_without_the_reply_s_place_milestones_still_go_to_the_source_thread() -> None:
    sub = submission()
    record = thread_record_from_delivery(sub, request(), thread(), URL, None)
    assert record is not None
    assert sub.source is not None
    assert (record.channel_id, record.thread_ts) == (sub.source.channel_id, sub.source.thread_ts)
    assert record.reply_ts is None  # nothing to edit


def test_an_ephemeral_confirmation_leaves_nothing_to_remember() -> None:
    assert thread_record_from_delivery(submission(with_source=False), request(), thread(), URL, None) is None


def test_slack_connect_keeps_the_contact_out_and_is_marked() -> None:
    reply = {"channel": "C0SHARED", "ts": "2.2", "thread_ts": "1.1"}
    record = thread_record_from_delivery(
        submission(), request(ThreadOrigin.slack_connect), thread(), URL, reply
    )
    assert record is not None
    assert record.is_slack_connect
    assert record.confirmation.contact is None


def test_a_thread_created_done_is_remembered_done() -> None:
    record = thread_record_from_delivery(submission(), request(), thread(status="done"), URL, None)
    assert record is not None
    assert record.status == "done"


def test_a_status_edit_of_the_reply_keeps_its_notes_button_and_editor() -> None:
    filed_by_reaction = submission().model_copy(update={"via_reaction": True})
    landed = {"channel": "C0FEEDBACK", "ts": "1764252999.000200"}
    kept: dict[str, Any] = {
        "thread_id": "th_1",
        "status": "open",
        "notes": ["The thread's 2 later messages stayed in Slack."],
        "edited_by": "U0EDITOR01",
        "reply": landed,
    }
    record = thread_record_from_delivery(filed_by_reaction, request(), kept, URL, landed)
    assert record is not None
    record = replace(record, status="done")
    reply = confirmation_with_status(record.confirmation, Status.DONE, [], record.is_slack_connect)
    shown = json.dumps(reply.blocks_json())
    assert "The thread's 2 later messages stayed in Slack." in shown
    assert "Details edited by <@U0EDITOR01>" in shown
    assert '"Edit details"' in shown
    assert '"value": "V1"' in shown
    assert "Status in Productlane: Done" in shown

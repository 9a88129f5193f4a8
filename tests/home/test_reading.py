"""What a person's Home lists, read from the outbox and the updates' tables: only their own
submissions, newest first, each in the state it is in — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.budgets.key_pause import KeyPause
from bot.delivery.intake import Intake
from bot.delivery.outbox import Outbox, Status
from bot.delivery.submissions import delay_of
from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Submission, edit_key
from bot.home.model import Refused, Sent, ThreadStatus, Waiting, WaitReason
from bot.home.reading import SubmissionsReader, waiting_reason
from bot.slack.replies import Confirmation
from bot.updates.remember import RememberedThread
from bot.updates.schema import links
from bot.updates.store import UpdatesStore
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at
from tests.delivery.worker_rig import SOURCE

T0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
KEY = "productlane:T0ACME0001"
DANA, SAM = "U0CSM0002", "U0CSM0001"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=BACKENDS)
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    box = outbox_at(database_url(request.param, tmp_path), clock=lambda: T0)
    yield box
    box.close()


def submit(
    outbox: Outbox, title: str, who: str = DANA, *, channel: str | None = "C0FEEDBACK", **more: object
) -> int:
    submission = Submission(
        key=f"view:{title}",
        submitter_id=who,
        form=FeedbackForm(title=title, contact_email="jane@customer.example"),
        source=SOURCE.model_copy(update={"channel_id": channel}) if channel else None,
        submitted_at=T0,
        **more,
    )
    return int(Intake(outbox).accept(submission))


def deliver(outbox: Outbox, item_id: int, thread_id: str, *, settle: bool = True) -> None:
    assert [item.id for item in outbox.claim("w", 1, 60, now=at(1))] == [item_id]
    outbox.record_thread(
        item_id, "w", {"thread_id": thread_id, "url": f"https://pl.test/{thread_id}", "status": "open"}
    )
    if settle:
        outbox.mark_delivered(
            item_id, "w", {"thread_id": thread_id, "url": f"https://pl.test/{thread_id}", "status": "open"}
        )


def test_only_their_own_submissions_newest_first_and_no_more_than_asked(outbox: Outbox) -> None:
    mine = [submit(outbox, f"mine {n}") for n in range(5)]
    submit(outbox, "Sam's", SAM)
    found = SubmissionsReader(outbox, KEY).latest(DANA, limit=3, now=at(0))
    assert [s.item_id for s in found] == mine[::-1][:3]
    assert [s.title for s in found] == ["mine 4", "mine 3", "mine 2"]
    assert all(s.channel_id == "C0FEEDBACK" and s.submitted_at == T0 for s in found)
    assert SubmissionsReader(outbox, KEY).latest("U0NOBODY", now=at(0)) == []


def test_a_sent_submission_shows_its_thread_its_status_and_its_links(outbox: Outbox) -> None:
    item_id = submit(outbox, "Sent")
    deliver(outbox, item_id, "th_1")
    store = UpdatesStore(outbox.database, clock=lambda: T0)
    confirmation = Confirmation("https://pl.test/th_1", "Sent", "High", None, DANA)
    store.remember(
        RememberedThread("th_1", confirmation, "C0FEEDBACK", None, None, None, False, status="done")
    )
    with outbox.database.writing() as conn:
        for need, name, removed in (("n1", "CSV export v2", False), ("n2", "Gone", True)):
            conn.execute(
                sa.insert(links).values(
                    need_id=need,
                    thread_id="th_1",
                    issue_id=f"i-{need}",
                    project_id=None,
                    issue_name=name,
                    project_name=None,
                    removed=removed,
                    completed=False,
                    created_at=T0,
                )
            )
    [found] = SubmissionsReader(outbox, KEY).latest(DANA, now=at(2))
    assert isinstance(found.state, Sent)
    assert found.state.thread_url == "https://pl.test/th_1"
    assert found.state.status is ThreadStatus.DONE
    assert [link.name for link in found.state.links] == ["CSV export v2"]
    assert not found.state.confirming


def test_a_thread_without_its_confirmation_yet_is_sent_with_the_status_it_was_created_with(
    outbox: Outbox,
) -> None:
    item_id = submit(outbox, "Confirming")
    deliver(outbox, item_id, "th_2", settle=False)
    outbox.schedule_retry(item_id, "w", at(30), "confirmation in Slack: ratelimited", now=at(1))
    [found] = SubmissionsReader(outbox, KEY).latest(DANA, now=at(2))
    assert found.state == Sent("https://pl.test/th_2", ThreadStatus.OPEN, (), confirming=True)


def test_a_refused_submission_says_why_and_an_edited_copy_replaces_it(outbox: Outbox) -> None:
    refused = submit(outbox, "Refused", channel=None, confirm_channel_id="C0CMD")
    outbox.claim("w", 1, 60, now=at(1))
    outbox.mark_failed(refused, "w", "Validation failed: title", now=at(2))
    [found] = SubmissionsReader(outbox, KEY).latest(DANA, now=at(3))
    assert found.state == Refused("Validation failed: title", refused)
    assert found.channel_id == "C0CMD", "where /feedback was typed"
    copy = submit(outbox, "Refused, edited", replaces_item_id=str(refused))
    assert [s.item_id for s in SubmissionsReader(outbox, KEY).latest(DANA, now=at(4))] == [copy]


def test_edit_details_changes_are_not_submissions_of_their_own(outbox: Outbox) -> None:
    original = submit(outbox, "Original")
    outbox.add(edit_key(str(original), "V9"), "update_thread", {"submitter_id": DANA}, submitter_id=DANA)
    assert [s.item_id for s in SubmissionsReader(outbox, KEY).latest(DANA, now=at(0))] == [original]


def test_a_waiting_submission_is_queued_behind_the_others_due_before_it(outbox: Outbox) -> None:
    for n in range(3):
        submit(outbox, f"Sam {n}", SAM)
    mine = submit(outbox, "Mine")
    submit(outbox, "Sam later", SAM)
    outbox.claim("w", 1, 60, now=at(0))  # Sam 0 is being sent
    [found] = SubmissionsReader(outbox, KEY).latest(DANA, now=at(0))
    assert found.state == Waiting(WaitReason.QUEUED, ahead=3)
    assert found.item_id == mine


def test_a_refused_key_pauses_every_waiting_submission(outbox: Outbox) -> None:
    submit(outbox, "Mine")
    KeyPause(outbox.database).record_key_problem(KEY, "unauthenticated", "revoked", probe_at=at(30))
    [found] = SubmissionsReader(outbox, KEY).latest(DANA, now=at(0))
    assert found.state == Waiting(WaitReason.PAUSED)


def test_why_a_submission_waits() -> None:
    def reason(
        status: Status = Status.PENDING,
        error: str | None = None,
        due: float = 0,
        *,
        ahead: int = 0,
        paused: bool = False,
    ) -> Waiting:
        return waiting_reason(
            status=status,
            delay=delay_of(error),
            next_attempt_at=at(due),
            now=at(10),
            ahead=ahead,
            paused=paused,
        )

    assert reason(ahead=4) == Waiting(WaitReason.QUEUED, ahead=4)
    assert reason(Status.SENDING) == Waiting(WaitReason.SENDING)
    assert reason(error="server_error", due=60) == Waiting(WaitReason.UNREACHABLE, retry_at=at(60))
    assert reason(error="ConnectError", due=5) == Waiting(WaitReason.QUEUED), "due again: in the queue"
    assert reason(error="rate_limited", due=40, ahead=2) == Waiting(
        WaitReason.QUEUED, ahead=2, retry_at=at(40)
    )
    assert reason(error="Slack: ratelimited", due=30) == Waiting(WaitReason.SLACK, retry_at=at(30))
    assert reason(error="server_error", due=60, paused=True) == Waiting(WaitReason.PAUSED)

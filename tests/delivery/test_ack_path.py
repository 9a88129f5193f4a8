"""What the ack path writes and reads: a submission saved byte for byte as pydantic encodes it, drafts
answered from memory or, on another replica or after a restart, from the database, and many threads
saving at once without losing any."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.delivery.drafts import SqlDraftStore
from bot.delivery.intake import Intake
from bot.delivery.outbox import EncodedJson, Outbox, Status
from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage, source_from_message_shortcut
from bot.feedback.submission import Draft, Submission
from bot.productlane.models import PainLevel
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at


@pytest.fixture(params=BACKENDS)
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    box = outbox_at(database_url(request.param, tmp_path))
    yield box
    box.close()


def source() -> SourceMessage:
    fixture = json.loads((Path(__file__).parents[1] / "fixtures/slack/message_shortcut.json").read_text())
    return source_from_message_shortcut(fixture)


def submission(key: str) -> Submission:
    return Submission(
        key=key,
        submitter_id="U0CSM0001",
        form=FeedbackForm(
            title="Export to CSV times out", pain_level=PainLevel.HIGH, contact_email="jane@x.test"
        ),
        source=source(),
        submitted_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_a_submission_is_stored_as_its_json_and_reads_back_the_same(outbox: Outbox) -> None:
    accepted = submission("V1:h1")
    item_id = Intake(outbox).accept(accepted)
    stored = outbox.get(int(item_id))
    assert stored is not None
    assert Submission.model_validate(stored.payload) == accepted


def test_only_json_objects_are_accepted_as_encoded_payloads(outbox: Outbox) -> None:
    with pytest.raises(TypeError):
        outbox.add("k", "create_thread", EncodedJson('"a string"'))


def test_a_draft_is_answered_from_memory_and_from_the_database_elsewhere(outbox: Outbox) -> None:
    here = SqlDraftStore(outbox.database)
    draft = Draft(draft_id="d1", submitter_id="U1", source=source())
    here.put(draft)
    assert here.get("d1") is draft, "the process that opened the modal needs no database read"
    elsewhere = SqlDraftStore(outbox.database)  # another replica, or this bot after a restart
    assert elsewhere.get("d1") == draft
    assert elsewhere.get("unknown") is None


def test_memory_keeps_only_the_latest_drafts(outbox: Outbox) -> None:
    store = SqlDraftStore(outbox.database, remember=2)
    for index in range(3):
        store.put(Draft(draft_id=f"d{index}", submitter_id="U1"))
    with outbox.database.writing() as connection:
        connection.execute(sa.text("DELETE FROM modal_drafts"))
    assert store.get("d0") is None, "forgotten in memory, and gone from the database"
    assert store.get("d2") is not None


def test_many_acks_at_once_are_all_saved(outbox: Outbox) -> None:
    intake = Intake(outbox)
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def ack(index: int) -> None:
        try:
            start.wait()
            for round_ in range(5):
                intake.accept(submission(f"V{index}:{round_}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ack, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outbox.counts()[Status.PENDING] == 80

"""Filing by reaction and "Edit details" in delivery: one item per message, and a change to a thread
that exists sent as PATCH from the worker, retried safely, refused out loud."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.delivery.edits import OutboxFiling
from bot.delivery.outbox import Status
from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Submission, edit_key, reaction_key
from bot.productlane import PainLevel
from tests.delivery.worker_rig import SOURCE, Rig, make_rig
from tests.fakes.productlane import FakeProductlane
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeProductlane() as productlane:
        rig = make_rig(tmp_path, productlane)
        rig.worker.start()
        yield rig
        rig.close()


def filed(reactor: str = "U0CSM0002", title: str = "Dark mode") -> Submission:
    return Submission(
        key=reaction_key(SOURCE.channel_id, SOURCE.ts),
        submitter_id=reactor,
        form=FeedbackForm(title=title, contact_email="jane@customer.example"),
        source=SOURCE,
        submitted_at=datetime.now(UTC),
        via_reaction=True,
    )


def edit(item_id: str, title: str, pain: PainLevel, view: str = "V1:h1") -> Submission:
    return Submission(
        key=edit_key(item_id, view),
        submitter_id="U0CSM0001",
        form=FeedbackForm(title=title, contact_email="jane@customer.example", pain_level=pain),
        source=SOURCE,
        submitted_at=datetime.now(UTC),
        edits_item_id=item_id,
    )


def test_two_reactions_file_one_item_and_the_second_learns_who_filed_it(rig: Rig) -> None:
    filing = OutboxFiling(rig.outbox, rig.intake)
    first = filing.file(filed("U0CSM0002"))
    second = filing.file(filed("U0CSM0001"))
    assert first.created
    assert not second.created
    assert second.submitter_id == "U0CSM0002"
    rig.wait_settled(1)
    assert len(rig.productlane.threads) == 1
    assert filing.file(filed("U0CSM0001")).thread_url == rig.notifier.delivered_urls[0]
    sent = filing.already_sent(SOURCE.channel_id, SOURCE.ts)
    assert sent is not None
    assert sent.thread_url == rig.notifier.delivered_urls[0]


def test_an_edit_waits_for_the_thread_then_patches_it_and_refreshes_the_reply(rig: Rig) -> None:
    original = rig.intake.accept(filed())
    rig.intake.accept(edit(original, "Dark mode for reports", PainLevel.HIGH))
    rig.wait_settled(2)
    thread = rig.productlane.threads[0]
    assert (thread["title"], thread["pain_level"]) == ("Dark mode for reports", "HIGH")
    assert rig.productlane.patch_count == 1
    assert rig.notifier.updates == [("Dark mode for reports", "HIGH")]
    target = OutboxFiling(rig.outbox, rig.intake).edit_target(reaction_key(SOURCE.channel_id, SOURCE.ts))
    assert target is not None
    assert (target.item_id, target.form.title, target.form.pain_level) == (
        original,
        "Dark mode for reports",
        PainLevel.HIGH,
    )


def test_a_change_is_sent_again_after_a_server_error(rig: Rig) -> None:
    original = rig.intake.accept(filed())
    rig.wait_settled(1)
    rig.productlane.fail_next(503, method="PATCH")
    rig.intake.accept(edit(original, "Again", PainLevel.LOW))
    rig.wait_settled(2)
    thread = rig.productlane.threads[0]
    assert thread["title"] == "Again"
    assert len(rig.productlane.requests_to("PATCH", f"/threads/{thread['id']}")) == 2


def test_a_thread_gone_from_productlane_fails_the_change_and_the_editor_hears(rig: Rig) -> None:
    original = rig.intake.accept(filed())
    rig.wait_settled(1)
    rig.productlane.fail_next(404, method="PATCH")
    change = rig.intake.accept(edit(original, "Too late", PainLevel.LOW))
    wait_until(lambda: rig.outbox.counts()[Status.FAILED] == 1, "the refusal")
    # The item is marked failed a moment before the editor is told.
    wait_until(lambda: rig.notifier.failures, "the editor told")
    assert rig.notifier.failures == [
        (edit(original, "Too late", PainLevel.LOW).key, "the thread no longer exists in Productlane")
    ]
    item = rig.outbox.get(int(change))
    assert item is not None
    assert item.status is Status.FAILED


def test_a_change_to_feedback_that_was_never_sent_is_dropped(rig: Rig) -> None:
    rig.productlane.fail_next(400, method="POST", path="/threads")
    original = rig.intake.accept(filed())
    rig.wait_settled(1)
    rig.intake.accept(edit(original, "Never", PainLevel.LOW))
    wait_until(lambda: rig.outbox.counts()[Status.FAILED] == 2, "the change dropped")
    assert rig.productlane.patch_count == 0

"""The shares that keep one flood from spending every upload: each channel takes at most its share of
the day's uploads, and a submission copies at most its first files. What does not fit stays a link to
Slack, with a note, never lost. Through the delivery worker against the loopback Slack and
Productlane, and the copier on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.budgets.file_copies import daily_left, take_daily_all
from bot.delivery.copies import ItemLedger
from bot.feedback.capture import is_over_file_share
from bot.feedback.submission import Submission
from tests.databases import outbox_at
from tests.delivery.test_uploads import (
    CopiesComposer,
    World,
    claimed,
    copier,
    files,
    shots,
    submission_with,
    world,
)
from tests.delivery.worker_rig import Rig, make_rig

pytestmark = pytest.mark.timeout(60)

__all__ = ["world"]  # the fixture, shared with test_uploads


def in_channel(submission: Submission, channel_id: str, ts: str) -> Submission:
    assert submission.source is not None
    source = submission.source.model_copy(update={"channel_id": channel_id, "ts": ts, "thread_ts": ts})
    return submission.model_copy(update={"source": source})


def start(tmp_path: Path, world: World, **options: Any) -> Rig:
    rig = make_rig(tmp_path, world.productlane, gatherer=world.capture, composer=CopiesComposer(), **options)
    rig.worker.start()
    return rig


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Any]:
    with outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}") as box:
        yield box


def test_a_submission_copies_its_first_files_and_keeps_the_rest_as_links(
    tmp_path: Path, world: World
) -> None:
    rig = start(tmp_path, world, files_per_submission=2)
    try:
        rig.intake.accept(submission_with(files(world.slack, 5)))
        rig.wait_settled(1)
    finally:
        rig.close()
    assert [upload["name"] for upload in world.productlane.uploads] == ["shot-0.png", "shot-1.png"]
    # Only the copied ones were downloaded; every file is in the thread, the rest as links.
    assert [len(world.slack.web.downloaded(f"F0IMG{i:05d}")) for i in range(5)] == [1, 1, 0, 0, 0]
    body = world.productlane.threads[0]["text"]
    assert body.count("[past the first 2 files a submission copies into Productlane]") == 3
    assert rig.notifier.notes == [
        [
            "3 more files were kept as links to Slack"
            " (past the first 2 files a submission copies into Productlane)."
        ]
    ]


def test_a_flooding_channel_takes_only_its_share_of_the_days_uploads(tmp_path: Path, world: World) -> None:
    rig = start(tmp_path, world, uploads_per_channel_per_day=1)
    served = files(world.slack, 3)
    try:
        rig.intake.accept(
            in_channel(submission_with([served[0]], key="V-a1"), "C0FLOOD", "1764252900.000100")
        )
        rig.wait_settled(1)
        rig.intake.accept(
            in_channel(submission_with([served[1]], key="V-a2"), "C0FLOOD", "1764252900.000200")
        )
        rig.intake.accept(
            in_channel(submission_with([served[2]], key="V-b1"), "C0QUIET", "1764252900.000300")
        )
        rig.wait_settled(3)
    finally:
        rig.close()
    # The flooding channel's second file stays a link; the other channel still gets its upload.
    assert sorted(upload["name"] for upload in world.productlane.uploads) == ["shot-0.png", "shot-2.png"]
    by_title = {thread["title"]: thread["text"] for thread in world.productlane.threads}
    assert "[this channel's share of 1 uploads a day was used up]" in by_title["V-a2"]
    assert "https://cdn.productlane.test/" in by_title["V-b1"]


# --- the copier on its own -------------------------------------------------------------------


def test_the_file_share_holds_across_retries(outbox: Any, world: World) -> None:
    item = claimed(outbox, submission_with([]))
    found = shots(world, 4)
    first = copier(outbox, world, files_per_copy=1).copy(item, found, "me")
    again = copier(outbox, world, files_per_copy=1).copy(item, found, "me")
    assert first == again
    assert [copy.url is not None for copy in first.values()] == [True, False, False, False]
    assert all(is_over_file_share(copy.note) for copy in list(first.values())[1:])
    assert len(world.productlane.uploads) == 1


def test_no_files_at_all_when_the_share_is_zero(outbox: Any, world: World) -> None:
    item = claimed(outbox, submission_with([]))
    (copy,) = copier(outbox, world, files_per_copy=0).copy(item, shots(world, 1), "me").values()
    assert copy.url is None
    assert copy.permalink is not None  # the link to Slack is kept
    assert world.productlane.uploads == []
    assert world.slack.web.downloads == []


def test_what_one_budget_refuses_takes_nothing_from_the_other(outbox: Any) -> None:
    database = outbox.database
    assert take_daily_all(database, [("all", 1), ("all:channel:C1", 5)])
    assert not take_daily_all(database, [("all", 1), ("all:channel:C2", 5)])
    assert daily_left(database, "all:channel:C2", 1)  # the channel's unit went back
    assert take_daily_all(database, [("all", 5), ("all:channel:C1", 5)])


def test_the_channel_share_is_counted_per_channel(outbox: Any, world: World) -> None:
    shared = copier(outbox, world, uploads_per_channel_per_day=1)._copier
    outcomes = []
    for number, channel in enumerate(("C0FLOOD", "C0FLOOD", "C0QUIET")):
        item = claimed(outbox, submission_with([], key=f"V-{number}"))
        ledger = ItemLedger(outbox, item, "me", 30)
        (copy,) = shared.copy_into(ledger, shots(world, 1), channel_id=channel).values()
        outcomes.append(copy.note or "copied")
    assert outcomes == ["copied", "this channel's share of 1 uploads a day was used up", "copied"]

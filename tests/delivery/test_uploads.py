"""Copying a submission's files into Productlane, in the delivery worker: once each, within the
budgets, and never at the cost of the feedback. Real loopback Slack and Productlane throughout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.budgets.file_copies import CopierSettings, CopyLater, FileCopier, KeyRefused, LeaseLost, take_daily
from bot.delivery.copies import ItemLedger, copies_of
from bot.delivery.intake import Intake
from bot.delivery.outbox import Outbox, OutboxItem, Status
from bot.feedback.capture import Captured, CopiedFile, SlackFile, slack_files
from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage
from bot.feedback.submission import Submission
from bot.productlane import CreateThread, PainLevel, ProductlaneClient, ThreadOrigin, WriteLimiter
from bot.slack.capture import SlackCapture
from tests.databases import outbox_at
from tests.delivery.worker_rig import Rig, TitleComposer, make_rig
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack, load_fixture
from tests.pace import TEST_WRITES_PER_MINUTE
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)

SCOPES = ("threads:read", "threads:write", "files:write")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 512


@dataclass
class World:
    slack: FakeSlack
    productlane: FakeProductlane
    capture: SlackCapture


@pytest.fixture
def world() -> Iterator[World]:
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        capture = SlackCapture(client, slack.bot_token, slack.api_url)
        yield World(slack, productlane, capture)
        capture.close()


def files(slack: FakeSlack, count: int = 2) -> list[dict[str, Any]]:
    """`count` served PNG screenshots."""
    template = load_fixture("message_with_files")["files"][0]
    served = []
    for index in range(count):
        file = dict(template, id=f"F0IMG{index:05d}", name=f"shot-{index}.png", size=len(PNG))
        served.append(slack.web.add_file(file, PNG))
    return served


def submission_with(message_files: list[dict[str, Any]], key: str = "V-files") -> Submission:
    return Submission(
        key=key,
        submitter_id="U0CSM0002",
        form=FeedbackForm(title=key, contact_email="jane@customer.example", pain_level=PainLevel.LOW),
        source=SourceMessage(
            workspace_team_id="T0ACME0001",
            channel_id="C0FEEDBACK",
            ts="1764252900.000300",
            thread_ts="1764252900.000300",
            author_id="U0CUST0003",
            content={"text": "screens", "files": message_files},
        ),
        submitted_at=datetime.now(UTC),
    )


class CopiesComposer(TitleComposer):
    """Compose the title, and the copies' URLs as the body (enough to see what the worker passed)."""

    def __init__(self) -> None:
        self.captured: list[Captured | None] = []

    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        self.captured.append(captured)
        urls = " ".join(copy.url or f"[{copy.note}]" for copy in (captured or Captured()).copies.values())
        return CreateThread(
            text=f"<p>{submission.form.title} {urls}</p><p>ref {submission.reference}</p>",
            title=submission.form.title,
            pain_level=submission.form.pain_level,
            contact_email=submission.form.contact_email,
            origin=ThreadOrigin.slack,
        )


@pytest.fixture
def rig(tmp_path: Path, world: World) -> Iterator[Rig]:
    rig = make_rig(tmp_path, world.productlane, gatherer=world.capture, composer=CopiesComposer())
    rig.worker.start()
    yield rig
    rig.close()


# --- through the worker ----------------------------------------------------------------------


def test_files_are_uploaded_once_and_a_retried_create_does_not_upload_again(rig: Rig, world: World) -> None:
    world.productlane.fail_next(503, n=2, method="POST", path="/threads")
    rig.intake.accept(submission_with(files(world.slack, 2)))
    rig.wait_settled(1)
    assert len(world.productlane.uploads) == 2
    assert len(world.productlane.threads) == 1
    body = world.productlane.threads[0]["text"]
    assert all(upload["url"] in body for upload in world.productlane.uploads)
    assert world.productlane.post_count == 3
    assert [len(world.slack.web.downloaded(f"F0IMG{i:05d}")) for i in range(2)] == [1, 1]


def test_a_rate_limited_upload_waits_retry_after_and_goes_once(rig: Rig, world: World) -> None:
    # A quarter of a second (Productlane's Retry-After may be any number): five times the rig's
    # backoff, so an upload tried again without waiting it out would come far sooner.
    world.productlane.fail_next(429, retry_after=0.25, method="POST", path="/files")
    rig.intake.accept(submission_with(files(world.slack, 1)))
    rig.wait_settled(1)
    assert len(world.productlane.uploads) == 1
    refused, uploaded = world.productlane.requests_to("POST", "/files")
    assert uploaded.time - refused.time >= 0.22  # not before Productlane's Retry-After
    assert world.productlane.threads[0]["text"].count("https://cdn.productlane.test/") == 1


def test_the_confirmation_lists_what_stayed_in_slack(rig: Rig, world: World) -> None:
    svg = load_fixture("message_with_files")["files"][2]
    rig.intake.accept(submission_with([svg, *files(world.slack, 1)]))
    rig.wait_settled(1)
    assert rig.notifier.notes == [
        ["Kept as links to Slack: diagram.svg (Productlane does not accept SVG files)."]
    ]
    assert "[Productlane does not accept SVG files]" in world.productlane.threads[0]["text"]


def test_a_revoked_key_during_an_upload_pauses_delivery_and_nothing_is_lost(rig: Rig, world: World) -> None:
    world.productlane.fail_next(401, method="POST", path="/files")
    rig.intake.accept(submission_with(files(world.slack, 1)))

    wait_until(lambda: rig.worker.key_problem() is not None, "the pause")
    assert rig.outbox.counts()[Status.FAILED] == 0
    assert world.productlane.threads == []


# --- the copier on its own -------------------------------------------------------------------


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}") as box:
        yield box


def claimed(outbox: Outbox, submission: Submission, owner: str = "me") -> OutboxItem:
    Intake(outbox).accept(submission)
    (item,) = outbox.claim(owner, limit=1, lease_seconds=30)
    return item


class ItemCopier:
    """The copier as the delivery worker uses it: the outcomes kept with the claimed item."""

    def __init__(self, outbox: Outbox, copier: FileCopier) -> None:
        self._outbox = outbox
        self._copier = copier

    def copy(self, item: OutboxItem, files: tuple[SlackFile, ...], owner: str) -> dict[str, CopiedFile]:
        return self._copier.copy_into(ItemLedger(self._outbox, item, owner, 30), files)


def copier(outbox: Outbox, world: World, **options: Any) -> ItemCopier:
    # Not Productlane's pace (29 uploads and 60 writes a minute): none of these tests is about it.
    pace: dict[str, Any] = {
        "write_rate_per_minute": TEST_WRITES_PER_MINUTE,
        "uploads_per_minute": TEST_WRITES_PER_MINUTE,
    }
    client = ProductlaneClient(
        world.productlane.api_key,
        world.productlane.url,
        write_limiter=WriteLimiter(rate_per_minute=TEST_WRITES_PER_MINUTE),
    )
    settings = CopierSettings(limiter_key="test", lease_seconds=30, **(pace | options))
    copier = FileCopier(outbox.database, client, world.capture, settings)
    return ItemCopier(outbox, copier)


def shots(world: World, count: int = 1) -> tuple[SlackFile, ...]:
    return slack_files([{"files": files(world.slack, count)}])


def test_what_is_recorded_is_used_as_it_is(outbox: Outbox, world: World) -> None:
    item = claimed(outbox, submission_with([]))
    found = shots(world, 2)
    first = copier(outbox, world).copy(item, found, "me")
    again = copier(outbox, world).copy(item, found, "me")
    assert first == again == copies_of(outbox.database, item.id)
    assert len(world.productlane.uploads) == 2


def test_only_the_lease_owner_records_a_copy(outbox: Outbox, world: World) -> None:
    item = claimed(outbox, submission_with([]), owner="someone-else")
    with pytest.raises(LeaseLost):
        copier(outbox, world).copy(item, shots(world), "me")
    assert copies_of(outbox.database, item.id) == {}


def test_when_the_days_uploads_are_spent_files_stay_links(outbox: Outbox, world: World) -> None:
    item = claimed(outbox, submission_with([]))
    (copy,) = copier(outbox, world, uploads_per_day=0).copy(item, shots(world), "me").values()
    assert copy.url is None
    assert copy.note == "Productlane's limit of 0 uploads a day was reached"
    assert world.productlane.uploads == []
    assert world.slack.web.downloads == []


def test_the_daily_budget_is_counted_per_utc_day(outbox: Outbox) -> None:
    today = datetime(2025, 11, 28, 23, 59, tzinfo=UTC)
    assert take_daily(outbox.database, "k", 1, now=today)
    assert not take_daily(outbox.database, "k", 1, now=today)
    assert take_daily(outbox.database, "k", 1, now=today + timedelta(minutes=2))


def test_passing_trouble_waits_then_after_patience_the_file_goes_as_a_link(
    outbox: Outbox, world: World
) -> None:
    world.productlane.fail_next(503, n=2, method="POST", path="/files")
    item = claimed(outbox, submission_with([]))
    found = shots(world)
    with pytest.raises(CopyLater):
        copier(outbox, world).copy(item, found, "me")
    (copy,) = copier(outbox, world, patience=timedelta(0)).copy(item, found, "me").values()
    assert copy.url is None
    assert copy.note is not None
    assert copy.note.startswith("Productlane did not answer in time")


def test_a_slow_slack_makes_the_item_wait(outbox: Outbox, world: World) -> None:
    world.slack.web.respond(
        "files.info", {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "7"}, times=1
    )
    hidden = slack_files(
        [{"files": [{"id": "F0EXT00005", "mode": "file_access", "file_access": "check_file_info"}]}]
    )
    item = claimed(outbox, submission_with([]))
    with pytest.raises(CopyLater) as later:
        copier(outbox, world).copy(item, hidden, "me")
    assert later.value.wait == 7
    (copy,) = copier(outbox, world).copy(item, hidden, "me").values()
    assert copy.note is not None
    assert "file_not_found" in copy.note


def test_a_key_refused_during_an_upload_is_raised_for_the_pause(outbox: Outbox, world: World) -> None:
    world.productlane.fail_next(401, method="POST", path="/files")
    item = claimed(outbox, submission_with([]))
    with pytest.raises(KeyRefused):
        copier(outbox, world).copy(item, shots(world), "me")
    assert copies_of(outbox.database, item.id) == {}

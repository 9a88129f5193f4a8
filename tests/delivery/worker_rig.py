"""A delivery worker wired to a loopback Productlane and a real outbox, for the worker's tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.delivery.intake import Intake
from bot.delivery.outbox import Outbox, Status
from bot.delivery.worker import Composer, DeliveryWorker, Gatherer, Notifier, SlackSide, WorkerSettings
from bot.feedback.capture import Captured
from bot.feedback.form import FeedbackForm
from bot.feedback.posted import PostedMessage
from bot.feedback.source import SourceMessage
from bot.feedback.submission import Submission
from bot.productlane import (
    CreateThread,
    PainLevel,
    ProductlaneClient,
    ThreadOrigin,
    UpdateThread,
    WriteLimiter,
)
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.pace import TEST_WRITES_PER_MINUTE
from tests.running_bot import wait_until

THREAD_URL = "https://productlane.test/feedback/{id}"


class TitleComposer:
    """Compose without Slack: the form's title and email are all the worker's tests need."""

    def update(self, edit: Submission) -> UpdateThread:
        return UpdateThread(title=edit.form.title, pain_level=edit.form.pain_level)

    def compose(self, submission: Submission, captured: Captured | None = None) -> CreateThread:
        return CreateThread(
            text=f"<p>{submission.form.title}</p><p>ref {submission.reference}</p>",
            title=submission.form.title,
            pain_level=submission.form.pain_level,
            contact_email=submission.form.contact_email,
            origin=ThreadOrigin.slack,
        )


@dataclass
class RecordingNotifier:
    delivered_urls: list[str] = field(default_factory=list)
    delayed_titles: list[str] = field(default_factory=list)
    waiting_titles: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[list[str]] = field(default_factory=list)
    updates: list[tuple[str, str]] = field(default_factory=list)

    def delivered(
        self, submission: Submission, request: CreateThread, thread_url: str, notes: Sequence[str] = ()
    ) -> PostedMessage | None:
        self.delivered_urls.append(thread_url)
        self.notes.append(list(notes))
        return PostedMessage(channel="D0CSM0002", ts=f"{len(self.delivered_urls)}.000100")

    def updated(
        self,
        edit: Submission,
        original: Submission,
        request: CreateThread,
        thread_url: str,
        reply: PostedMessage | None,
        notes: Sequence[str] = (),
    ) -> PostedMessage | None:
        self.updates.append((request.title or "", request.pain_level.value))
        return reply

    def edit_refused(self, edit: Submission, problem: str) -> None:
        self.failures.append((edit.key, problem))

    def find_delivered(self, submission: Submission, thread_url: str) -> PostedMessage | None:
        return None  # a recording has no Slack to look in

    def delayed(self, submission: Submission) -> None:
        self.delayed_titles.append(submission.form.title)

    def waiting_for_operator(self, submission: Submission) -> None:
        self.waiting_titles.append(submission.form.title)

    def failed(self, submission: Submission, item_id: str, problem: str) -> None:
        self.failures.append((item_id, problem))


def submission(title: str, email: str = "jane@customer.example", *, source: bool = False) -> Submission:
    return Submission(
        key=f"V-{title}",
        submitter_id="U0CSM0002",
        form=FeedbackForm(title=title, contact_email=email, pain_level=PainLevel.HIGH),
        source=SOURCE if source else None,
        submitted_at=datetime.now(UTC),
    )


SOURCE = SourceMessage(
    workspace_team_id="T0ACME0001",
    channel_id="C0FEEDBACK",
    ts="1764252900.000100",
    thread_ts="1764252900.000100",
    author_id="U0CUST0001",
    content={"text": "Export to CSV times out"},
)


@dataclass
class Rig:
    outbox: Outbox
    productlane: FakeProductlane
    client: ProductlaneClient
    notifier: Any
    worker: DeliveryWorker
    intake: Intake

    def wait_settled(self, count: int, timeout: float = 20.0) -> None:
        def settled() -> bool:
            counts = self.outbox.counts()
            return counts.get(Status.DELIVERED, 0) + counts.get(Status.FAILED, 0) >= count

        try:
            wait_until(settled, "settled", timeout)
        except AssertionError:
            raise AssertionError(f"not settled: {self.outbox.counts()}") from None

    def close(self) -> None:
        self.worker.stop(timeout=5)
        self.client.close()
        self.outbox.database.close()


def make_rig(
    tmp_path: Path,
    productlane: FakeProductlane,
    *,
    notifier: Notifier | None = None,
    api_key: str | None = None,
    composer: Composer | None = None,
    gatherer: Gatherer | None = None,
    client_timeout: float = 1.0,
    **worker_options: object,
) -> Rig:
    outbox = outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}")
    # Productlane's pace (a write a second) only where a test asks for it (tests/pace.py).
    options: dict[str, object] = {
        "backoff": lambda attempts: 0.05,
        "poll_interval": 0.05,
        "rate_per_minute": TEST_WRITES_PER_MINUTE,
        "uploads_per_minute": TEST_WRITES_PER_MINUTE,
    }
    options.update(worker_options)
    # The client's own limiter keeps the same pace, as the bot's does (bot/app.py).
    limiter = WriteLimiter(rate_per_minute=int(str(options["rate_per_minute"])))
    client = ProductlaneClient(
        api_key or productlane.api_key, productlane.url, timeout=client_timeout, write_limiter=limiter
    )
    told = notifier if notifier is not None else RecordingNotifier()
    worker = DeliveryWorker(
        outbox,
        client,
        composer if composer is not None else TitleComposer(),
        SlackSide(told, gatherer=gatherer),
        lambda thread_id: THREAD_URL.format(id=thread_id),
        settings=WorkerSettings(limiter_key="test", **options),  # type: ignore[arg-type]
    )
    return Rig(outbox, productlane, client, told, worker, Intake(outbox, worker.wake))

"""The follow-up sender in one process, against the fake Productlane: what a comment says (escaped,
sanitized), and new feedback going first in the shared write budget."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.background import BackgroundThreads
from bot.budgets.file_copies import CopierSettings, FileCopier
from bot.budgets.key_pause import KeyPause
from bot.budgets.write_limits import WriteLimits
from bot.channels.model import NoChannelSettings
from bot.conversation.compose import ReplyView, followup_html
from bot.conversation.followed import FollowedThreads
from bot.conversation.priority import NewFeedbackFirst
from bot.conversation.sender import YIELD_SECONDS, FollowUpSender, SenderSettings, SharedWrites
from bot.conversation.store import FollowedThread, FollowUpStore
from bot.conversation.whole_thread import WholeThread
from bot.conversation.worker import ConversationWorker
from bot.delivery.intake import Intake
from bot.delivery.outbox import Outbox
from bot.feedback.capture import SlackFile
from bot.message_events import Interest
from bot.productlane import ProductlaneClient
from bot.render.names import NO_NAMES, NameResolver, StaticNames
from tests.conversation.test_followed import submission
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.pace import PATIENCE
from tests.updates.conftest import Clock
from tests.wakes import OneWait

pytestmark = pytest.mark.timeout(60)

CHANNEL, PARENT = "C0FEEDBACK", "1700000000.000100"


def test_a_comment_names_the_author_links_the_reply_and_escapes_everything() -> None:
    html = followup_html(
        [
            ReplyView(
                author="Jane <script>alert(1)</script>",
                ts="1733150160.000300",
                permalink="https://acme.slack.com/archives/C0FEEDBACK/p1733150160000300?thread_ts=1",
                message={"text": "<@U0CSM0001> it *still* fails &lt;b&gt;"},
            ),
            ReplyView(
                author="Sam",
                ts="1733150220.000300",
                permalink="javascript:alert(1)",
                message={"text": "same here"},
                edited=True,
            ),
        ],
        StaticNames(users={"U0CSM0001": "sam"}),
    )
    assert html.startswith(
        "<p><strong>Jane &lt;script&gt;alert(1)&lt;/script&gt;</strong> in Slack, "
        '<a href="https://acme.slack.com/archives/C0FEEDBACK/p1733150160000300?thread_ts=1" '
        'rel="noopener noreferrer">14:36 UTC</a>:</p>'
    )
    assert "@sam it <strong>still</strong> fails &lt;b&gt;" in html
    assert "<p><strong>Sam</strong> in Slack, 14:37 UTC (edited):</p><p>same here</p>" in html
    assert "javascript" not in html


class Names:
    names: NameResolver = NO_NAMES

    def author(self, user_id: str | None, message: Any) -> str:
        return "Jane Doe"

    def permalink(self, channel_id: str, ts: str) -> str:
        return f"https://acme.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


class NoFiles:
    def resolve(self, file: SlackFile) -> SlackFile:
        raise AssertionError("no files here")

    def download(self, file: SlackFile, max_bytes: int) -> bytes:
        raise AssertionError("no files here")


@pytest.fixture
def productlane() -> Iterator[FakeProductlane]:
    with FakeProductlane(scopes=("threads:read", "threads:write", "comments:write")) as fake:
        yield fake


def sender_for(
    outbox: Outbox, store: FollowUpStore, fake: FakeProductlane, *, gather_seconds: float = 0
) -> FollowUpSender:
    client = ProductlaneClient(fake.api_key, fake.url, timeout=5)
    copier = FileCopier(
        outbox.database, client, NoFiles(), CopierSettings(limiter_key="productlane:T1", lease_seconds=30)
    )
    return FollowUpSender(
        store,
        client,
        Names(),
        WholeThread(store, outbox, None, None, copier),  # type: ignore[arg-type]  # comments only here
        copier,
        SharedWrites(WriteLimits(outbox.database), KeyPause(outbox.database), NewFeedbackFirst(outbox)),
        settings=SenderSettings(
            limiter_key="productlane:T1", owner="sender", lease_seconds=30, gather_seconds=gather_seconds
        ),
        stopping=threading.Event(),
    )


class RealClockMovedOn:
    """The real clock, moved on by `offset` where a test says."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_follow_ups_wait_while_new_feedback_waits(url: str, productlane: FakeProductlane) -> None:
    # The real clock (the sender sleeps for its write slots), moved on where the test says.
    clock = RealClockMovedOn()
    outbox = outbox_at(url, clock=clock)
    try:
        store = FollowUpStore(outbox.database)
        thread = productlane.seed_thread({"text": "<p>x</p>", "contact_email": "jane@customer.example"})
        now = datetime.now(UTC)
        store.follow(FollowedThread(CHANNEL, PARENT, thread["id"], "V-1", now, now + timedelta(days=1)))
        store.add_reply(CHANNEL, PARENT, "1700000001.000100", "U0CUST0003", {"text": "any news?"})
        sender = sender_for(outbox, store, productlane)
        Intake(outbox).add(submission(key="V-new"))  # new feedback, due now
        assert sender.send_due()  # it took the thread, waited, and gave it back
        assert productlane.conversation.comment_count == 0
        [item] = outbox.claim("delivery", 1, 30)
        outbox.record_thread(item.id, "delivery", {"thread_id": "th_new"})  # the thread is created
        clock.offset += timedelta(seconds=YIELD_SECONDS)  # the moment the thread was given back for
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not productlane.conversation.comments_on(thread["id"]) and datetime.now(UTC) < deadline:
            sender.send_due()
        [comment] = productlane.conversation.comments_on(thread["id"])
        assert "any news?" in comment["content"]
    finally:
        outbox.close()


@pytest.mark.parametrize(("gather", "slept"), [(0.5, 0.5), (5.0, 1.0)])
def test_between_passes_the_worker_sleeps_until_a_thread_comes_due_within_its_idle_interval(
    outbox: Outbox,
    store: FollowUpStore,
    clock: Clock,
    productlane: FakeProductlane,
    gather: float,
    slept: float,
) -> None:
    """Replies gathered for half a second go out then, not at the worker's next idle tick; a
    thread due later than that is looked at after the idle interval, as ever."""
    now = clock()
    store.follow(FollowedThread(CHANNEL, PARENT, "th_1", "V-1", now, now + timedelta(days=1)))
    store.add_reply(CHANNEL, PARENT, "1700000001.000100", "U0CUST0003", {"text": "any news?"})
    threads = BackgroundThreads()
    wake = OneWait(threads.stopping)
    threads.wake = wake
    worker = ConversationWorker(
        store,
        FollowedThreads(store, Interest(), NoChannelSettings(), 30),
        sender_for(outbox, store, productlane, gather_seconds=gather),
        threads,
        copies_kept=timedelta(days=37),
        idle_interval=1.0,
    )
    worker.start()
    assert wake.waited.wait(PATIENCE), "the worker never went to sleep"
    worker.stop()
    assert wake.waits == [pytest.approx(slept, abs=0.01)]
    assert productlane.conversation.comment_count == 0  # not due yet on the store's clock

"""Keeping Homes current: a change to someone's submission publishes their Home again while they may
be looking (opened within the hour) — once for a burst of changes, by one replica, never faster than
Slack allows — and costs nothing for people who are not looking. Against the loopback Slack Web API
and a real outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.delivery.health import DeliveryHealthReader
from bot.delivery.outbox import Outbox
from bot.feedback.form import FeedbackForm
from bot.feedback.posted import PostLater
from bot.feedback.submission import Submission
from bot.home import HomePacing, HomeShows, HomeSlack, HomeTab
from bot.home.views import HomeViews
from bot.slack.admins import WorkspaceAdmins
from bot.slack.lookups import SlackLookups
from bot.slack.replies import Confirmation
from bot.slack.team import OwnTeam
from bot.updates.remember import RememberedThread
from bot.updates.store import UpdatesStore
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at
from tests.fakes.slack import TEAM_ID, Call, FakeSlackWebAPI
from tests.running_bot import wait_until

DANA, SAM = "U0CSM0002", "U0CSM0001"
KEY = f"productlane:{TEAM_ID}"
INTERVAL = timedelta(seconds=0.3)
# Slack sends whole seconds; the bot reads any number, and a quarter of a second is still five times
# the tab's shortest wait (MIN_WAIT_SECONDS): a publish that ignored it would come far sooner.
RETRY_AFTER = 0.25


@pytest.fixture
def slack() -> Iterator[FakeSlackWebAPI]:
    with FakeSlackWebAPI() as fake:
        yield fake


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path)


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def make_tab(slack: FakeSlackWebAPI, outbox: Outbox, min_interval: timedelta = INTERVAL) -> HomeTab:
    client = WebClient(base_url=slack.api_url, token=slack.bot_token)
    lookups = SlackLookups(client)
    return HomeTab(
        HomeSlack(client, lookups, WorkspaceAdmins(lookups, (), TEAM_ID), OwnTeam(TEAM_ID), "Acme"),
        outbox,
        DeliveryHealthReader(outbox, KEY),
        limiter_key=KEY,
        shows=HomeShows(update_mode="off"),
        pacing=HomePacing(min_interval=min_interval),
    )


def publishes(slack: FakeSlackWebAPI, user_id: str, since: float = 0.0) -> list[Call]:
    return [c for c in slack.calls("views.publish") if c.params.get("user_id") == user_id and c.time >= since]


def settle(*tabs: HomeTab) -> None:
    """Until each tab has nothing left to publish: its thread ends once no Home is stale and no change
    is left to note, so nothing it was told can be published after this."""
    wait_until(lambda: all(tab._thread is None for tab in tabs), "the tabs to have nothing left to publish")


def test_a_burst_of_changes_republishes_a_looking_persons_home_once(slack: FakeSlackWebAPI, url: str) -> None:
    with outbox_at(url) as outbox:
        tab = make_tab(slack, outbox)
        try:
            tab.opened(DANA)
            assert len(publishes(slack, DANA)) == 1
            mark = time.monotonic()
            for _ in range(20):
                tab.changed([DANA])
                tab.changed([SAM])  # never opened their Home: nothing for them
            settle(tab)
            assert len(publishes(slack, DANA, mark)) == 1
            assert publishes(slack, SAM) == []
            assert HomeViews(outbox.database).stale() == []
        finally:
            tab.stop()


def test_the_replica_that_sees_the_change_publishes_it_for_a_home_opened_through_another(
    slack: FakeSlackWebAPI, url: str
) -> None:
    with outbox_at(url) as one, outbox_at(url) as other:
        first, second = make_tab(slack, one), make_tab(slack, other)
        try:
            first.opened(DANA)
            mark = time.monotonic()
            second.changed([DANA])
            first.changed([DANA])  # both replicas saw a change (two workers): still one publish
            settle(first, second)
            assert len(publishes(slack, DANA, mark)) == 1
        finally:
            first.stop()
            second.stop()


def test_an_hour_after_opening_changes_publish_nothing(slack: FakeSlackWebAPI, url: str) -> None:
    clock = Clock()
    with outbox_at(url, clock=clock) as outbox:
        tab = make_tab(slack, outbox)
        try:
            tab.opened(DANA)
            clock.offset = timedelta(hours=1, seconds=1)
            mark = time.monotonic()
            tab.changed([DANA])
            settle(tab)
            assert publishes(slack, DANA, mark) == []
        finally:
            tab.stop()


def test_a_status_change_reaches_the_home_of_the_threads_submitter(slack: FakeSlackWebAPI, url: str) -> None:
    with outbox_at(url) as outbox:
        store = UpdatesStore(outbox.database)
        confirmation = Confirmation("https://pl.test/th_1", "Title", "High", None, DANA)
        store.remember(RememberedThread("th_1", confirmation, "C0FEEDBACK", None, None, None, False))
        tab = make_tab(slack, outbox)
        try:
            tab.opened(DANA)
            mark = time.monotonic()
            tab.threads_changed(["th_1", "th_unknown"])
            settle(tab)
            assert len(publishes(slack, DANA, mark)) == 1
        finally:
            tab.stop()


def test_slack_rate_limiting_a_republish_is_waited_out_then_it_goes(slack: FakeSlackWebAPI, url: str) -> None:
    with outbox_at(url) as outbox:
        tab = make_tab(slack, outbox, min_interval=timedelta(0))
        try:
            tab.opened(DANA)
            slack.respond(
                "views.publish",
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(RETRY_AFTER)},
                times=1,
            )
            mark = time.monotonic()
            tab.changed([DANA])
            wait_until(
                lambda: [c for c in publishes(slack, DANA, mark) if c.status == 200 and c.response.get("ok")],
                "the publish after Retry-After",
            )
            calls = publishes(slack, DANA, mark)
            assert [c.response.get("ok") for c in calls] == [False, True]
            assert calls[1].time - calls[0].time >= RETRY_AFTER * 0.9, "Retry-After honoured"
        finally:
            tab.stop()


def test_an_idle_tab_holds_no_thread(slack: FakeSlackWebAPI, url: str) -> None:
    with outbox_at(url) as outbox:
        tab = make_tab(slack, outbox)
        try:
            tab.changed([SAM])
            settle(tab)
            assert tab._thread is None
        finally:
            tab.stop()


def test_the_notifier_it_watches_reports_each_outcome_even_when_slack_refuses(
    slack: FakeSlackWebAPI, url: str
) -> None:
    class Refusing:
        def delivered(self, submission: Submission, *args: Any) -> None:
            raise PostLater("ratelimited")

        def failed(self, submission: Submission, item_id: str, problem: str) -> None:
            return None

        def find_delivered(self, submission: Submission, thread_url: str) -> str:
            return "passed through"

    with outbox_at(url) as outbox:
        tab = make_tab(slack, outbox)
        seen: list[list[str]] = []
        tab.changed = lambda user_ids: seen.append(list(user_ids))  # type: ignore[method-assign]
        notifier = tab.watching(Refusing())
        submission = Submission(
            key="k", submitter_id=DANA, form=FeedbackForm(title="t"), submitted_at=datetime.now(UTC)
        )
        with pytest.raises(PostLater):
            notifier.delivered(submission, None, "https://pl.test/t")
        notifier.failed(submission, "1", "no")
        assert notifier.find_delivered(submission, "u") == "passed through"
        assert seen == [[DANA], [DANA]]
        tab.stop()

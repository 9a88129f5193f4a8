"""`check` says how follow-ups reach Productlane; the conversation's settings (follow-ups, replies)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.conversation.store import FollowedThread, FollowUpStore, ThreadWork
from bot.settings import SettingsError, load_settings
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.test_check import run, settings_for
from tests.test_settings import GOOD

pytestmark = pytest.mark.timeout(60)

TITLE = "Follow-ups (Slack → Productlane)"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def line(output: str) -> str:
    return next(text for text in output.splitlines() if TITLE in text)


def test_check_says_comments_when_the_key_may_comment(slack: FakeSlack) -> None:
    with FakeProductlane(scopes=("threads:read", "threads:write", "comments:write")) as productlane:
        status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert line(output) == (
        f"✓ {TITLE}: replies in a filed message's Slack thread for 30 days, as comments "
        "(POST /threads/{id}/comments)"
    )


def test_check_says_the_body_is_rendered_again_without_comments_write(slack: FakeSlack) -> None:
    with FakeProductlane(scopes=("threads:read", "threads:write")) as productlane:
        status, output = run(settings_for(slack, productlane, followup_days="7"))
    assert status == 0, output
    assert "for 7 days; the key lacks comments:write, so they will go by re-rendering" in line(output)


def test_check_says_what_a_running_bot_found_out(slack: FakeSlack, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    with outbox_at(url) as outbox:
        store = FollowUpStore(outbox.database)
        now = store.now()
        store.follow(FollowedThread("C1", "1.000100", "th_1", None, now, now + timedelta(days=7)))
        work = ThreadWork("C1", "1.000100", "th_1", None, None)
        store.set_thread_route(work, "patch", "405", now + timedelta(hours=1))
    with FakeProductlane(scopes=("threads:read", "threads:write", "comments:write")) as productlane:
        status, output = run(settings_for(slack, productlane, database_url=url))
    assert status == 0, output
    assert (
        "for 1 thread(s) by re-rendering the thread's body (PATCH /threads/{id}), never over a change "
        "made in Productlane: Productlane refused comments on them (latest: 405" in line(output)
    )


def test_check_skips_follow_ups_turned_off(slack: FakeSlack) -> None:
    with FakeProductlane() as productlane:
        _, output = run(settings_for(slack, productlane, followup_days="0"))
    assert line(output) == f"– {TITLE}: off (FOLLOWUP_DAYS=0)"


def test_follow_ups_and_team_replies_are_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env_file=None)
    assert settings.followup_days == 30
    assert settings.updates_post_replies
    monkeypatch.setenv("FOLLOWUP_DAYS", "0")
    monkeypatch.setenv("UPDATES_POST_REPLIES", "false")
    settings = load_settings(env_file=None)
    assert (settings.followup_days, settings.updates_post_replies) == (0, False)


@pytest.mark.parametrize("days", ["-1", "3651", "a month"])
def test_a_bad_followup_days_is_named_with_where_to_get_it(
    monkeypatch: pytest.MonkeyPatch, days: str
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FOLLOWUP_DAYS", days)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    assert "FOLLOWUP_DAYS" in caught.value.report()
    assert "0 turns follow-ups off" in caught.value.report()

"""Starting the bot when something outside it is wrong: a clear line and exit 1, never a traceback;
and when all is well, its timed chores start as it connects."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot import runtime
from bot.app import Bot
from bot.settings import Settings
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.pace import PATIENCE
from tests.running_bot import ENTRY_POINT, bot_environment, run_command

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "unused.db")
        env["DATABASE_URL"] = "postgresql+psycopg://bot:hunter2secret@127.0.0.1:9/feedback"
        result = run_command([str(ENTRY_POINT)], env, tmp_path)
    assert result.returncode == 1
    assert "could not open the outbox database in DATABASE_URL" in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_revoked_bot_token_points_to_check(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        env["SLACK_BOT_TOKEN"] = "xoxb-revoked"
        result = run_command([str(ENTRY_POINT)], env, tmp_path)
    assert result.returncode == 1
    assert "Slack refused the bot token (invalid_auth)" in result.stderr
    assert "productlane-slack check" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_timed_chores_run_as_the_bot_connects_not_a_tick_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chores (the catalog's first refresh among them) run once a tick; the first run must not
    wait for one: with a tick longer than the test's patience, they still run."""
    monkeypatch.setattr(runtime, "TICK_SECONDS", PATIENCE * 10)
    ticked = threading.Event()
    tick = Bot.tick

    def noted(bot: Bot) -> None:
        tick(bot)
        ticked.set()

    monkeypatch.setattr(Bot, "tick", noted)
    monkeypatch.chdir(tmp_path)
    with FakeSlack() as slack, FakeProductlane() as productlane:
        for name, value in bot_environment(slack, productlane, tmp_path / "outbox.db").items():
            monkeypatch.setenv(name, value)
        stop = threading.Event()
        status: list[int] = []
        running = threading.Thread(
            target=lambda: status.append(runtime.run_bot(Settings(), stop)), daemon=True
        )
        running.start()
        try:
            assert ticked.wait(PATIENCE), "no chore ran before the first tick's wait"
        finally:
            stop.set()
            running.join(PATIENCE)
    assert status == [0]

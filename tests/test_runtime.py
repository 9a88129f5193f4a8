"""Starting the bot when something outside it is wrong: a clear line and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
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

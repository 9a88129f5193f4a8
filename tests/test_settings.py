"""Settings: read from the environment and .env; every problem named at once, no secret echoed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.budgets.file_copies import UPLOAD_PACE_PER_MINUTE
from bot.settings import SettingsError, load_settings
from tests.running_bot import run_command

VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "PRODUCTLANE_API_KEY",
    "PRODUCTLANE_API_URL",
    "PRODUCTLANE_THREAD_URL",
    "DEFAULT_PAIN_LEVEL",
    "DEFAULT_NOTIFY_SLACK",
    "DEFAULT_NOTIFY_EMAIL",
    "LOG_LEVEL",
    "DATABASE_URL",
    "PORT",
    "HTTP_HEADERS_DEADLINE_SECONDS",
    "HTTP_BODY_DEADLINE_SECONDS",
    "PRODUCTLANE_WRITES_PER_MINUTE",
    "PRODUCTLANE_UPLOADS_PER_MINUTE",
    "PRODUCTLANE_WEBHOOK_SECRET",
    "PRODUCTLANE_POLL_SECONDS",
    "UPDATES_EDIT_CONFIRMATION",
    "UPDATES_POST_DONE",
    "UPDATES_POST_SHIPPED",
    "FEEDBACK_REACTION",
    "FEEDBACK_ADMINS",
    "METRICS_TOKEN",
    "LOG_FORMAT",
)
GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-good-bot-token",
    "SLACK_APP_TOKEN": "xapp-good-app-token",
    "PRODUCTLANE_API_KEY": "pl_v2_secret_key",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_reads_dotenv_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_APP_TOKEN=xapp-from-file\n"
        "PRODUCTLANE_API_KEY=pl_v2_file\nDEFAULT_PAIN_LEVEL=high\nLOG_LEVEL=debug\n"
    )
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    settings = load_settings()
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-env"
    assert settings.productlane_api_key.get_secret_value() == "pl_v2_file"
    assert settings.default_pain_level == "HIGH"
    assert settings.log_level == "DEBUG"
    assert settings.socket_mode


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.slack_api_base_url() == "https://slack.com/api/"
    assert settings.productlane_api_url == "https://productlane.com/api/v2"
    assert settings.thread_url("th_1") == "https://productlane.com/feedback/th_1"
    assert settings.default_pain_level == "UNKNOWN"
    assert not settings.default_notify_slack
    assert settings.database_url == "sqlite:///productlane-slack.db"


def test_every_problem_is_named_and_no_secret_is_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token-secret")
    monkeypatch.setenv("SLACK_API_URL", "not a url")
    monkeypatch.setenv("PRODUCTLANE_THREAD_URL", "https://productlane.com/feedback/")
    monkeypatch.setenv("DEFAULT_PAIN_LEVEL", "EXTREME")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    report = caught.value.report()
    for expected in (
        "SLACK_BOT_TOKEN must be a bot token starting with xoxb-",
        "OAuth & Permissions",
        "SLACK_API_URL must be an http(s) URL",
        "PRODUCTLANE_API_KEY is not set",
        "PRODUCTLANE_THREAD_URL must contain {id}",
        "DEFAULT_PAIN_LEVEL",
        "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is not set",
    ):
        assert expected in report
    assert "xoxp-user-token-secret" not in report
    assert "Traceback" not in report


def test_http_mode_needs_only_the_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh")
    monkeypatch.setenv("PRODUCTLANE_API_KEY", "pl_v2_1")
    settings = load_settings()
    assert not settings.socket_mode
    assert "shh" not in repr(settings)


@pytest.mark.e2e
def test_the_command_exits_2_with_a_readable_message(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxa-secret-value-123"}
    result = run_command([sys.executable, "-m", "bot", "check"], env, tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN must be a bot token starting with xoxb-" in result.stderr
    assert "PRODUCTLANE_API_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert "xoxa-secret-value-123" not in result.stderr + result.stdout


def test_updates_default_to_polling_every_minute_with_every_post_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.productlane_webhook_secret is None
    assert settings.webhook_secrets() == []
    assert settings.productlane_poll_seconds == 60
    assert settings.updates_edit_confirmation
    assert settings.updates_post_done
    assert settings.updates_post_shipped


def test_webhook_secrets_one_or_several_while_rotating(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PRODUCTLANE_WEBHOOK_SECRET", " whsec_new , whsec_old ,")
    monkeypatch.setenv("UPDATES_POST_DONE", "false")
    settings = load_settings()
    assert settings.webhook_secrets() == ["whsec_new", "whsec_old"]
    assert "whsec_new" not in repr(settings)
    assert not settings.updates_post_done
    monkeypatch.setenv("PRODUCTLANE_WEBHOOK_SECRET", "")
    assert load_settings().webhook_secrets() == []


def test_a_bad_poll_interval_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PRODUCTLANE_POLL_SECONDS", "-5")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "PRODUCTLANE_POLL_SECONDS" in caught.value.report()
    assert "0 to turn polling off" in caught.value.report()


def test_the_write_budget_defaults_to_productlanes_documented_60_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load_settings().productlane_writes_per_minute == 60
    monkeypatch.setenv("PRODUCTLANE_WRITES_PER_MINUTE", "40")
    assert load_settings().productlane_writes_per_minute == 40


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "lots", "6001"])
def test_a_bad_write_budget_is_named_with_its_range(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for name, good in GOOD.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("PRODUCTLANE_WRITES_PER_MINUTE", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    report = caught.value.report()
    assert "PRODUCTLANE_WRITES_PER_MINUTE" in report
    assert "1 to 6000 (default 60, Productlane's documented limit per API key)" in report


def test_the_upload_budget_defaults_to_one_under_productlanes_documented_30_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load_settings().productlane_uploads_per_minute == UPLOAD_PACE_PER_MINUTE == 29
    monkeypatch.setenv("PRODUCTLANE_UPLOADS_PER_MINUTE", "10")
    assert load_settings().productlane_uploads_per_minute == 10


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "lots", "6001"])
def test_a_bad_upload_budget_is_named_with_its_range(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for name, good in GOOD.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("PRODUCTLANE_UPLOADS_PER_MINUTE", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    report = caught.value.report()
    assert "PRODUCTLANE_UPLOADS_PER_MINUTE" in report
    assert "1 to 6000 (default 29, one under Productlane's documented 30 per API key)" in report


def test_homes_are_published_again_at_most_every_5_s_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load_settings().home_republish_seconds == 5
    monkeypatch.setenv("HOME_REPUBLISH_SECONDS", "30")
    assert load_settings().home_republish_seconds == 30


@pytest.mark.parametrize("value", ["0", "0.5", "-1", "soon", "3601"])
def test_a_bad_home_republish_interval_is_named_with_its_range(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    for name, good in GOOD.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("HOME_REPUBLISH_SECONDS", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    report = caught.value.report()
    assert "HOME_REPUBLISH_SECONDS" in report
    assert "seconds, 1 to 3600 (default 5)" in report


@pytest.mark.parametrize("value", ["localhost", "my-laptop", "0.0.0.0:3000", "300.1.1.1", "http://0.0.0.0"])
def test_a_bind_address_that_is_not_an_address_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for name, good in GOOD.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("BIND_ADDRESS", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    report = caught.value.report()
    assert "BIND_ADDRESS" in report
    assert "must be an IP address such as 0.0.0.0, :: or 127.0.0.1" in report


@pytest.mark.parametrize(("value", "kept"), [("127.0.0.1", "127.0.0.1"), (" :: ", "::"), ("[::1]", "::1")])
def test_a_bind_address_is_kept_as_an_address(monkeypatch: pytest.MonkeyPatch, value: str, kept: str) -> None:
    for name, good in GOOD.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("BIND_ADDRESS", value)
    assert load_settings().bind_address == kept


def test_a_client_has_10_s_for_its_headers_and_10_s_for_its_body_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.http_headers_deadline_seconds, settings.http_body_deadline_seconds) == (10.0, 10.0)
    monkeypatch.setenv("HTTP_HEADERS_DEADLINE_SECONDS", "2")
    monkeypatch.setenv("HTTP_BODY_DEADLINE_SECONDS", "30.5")
    settings = load_settings()
    assert (settings.http_headers_deadline_seconds, settings.http_body_deadline_seconds) == (2.0, 30.5)


@pytest.mark.parametrize("name", ["HTTP_HEADERS_DEADLINE_SECONDS", "HTTP_BODY_DEADLINE_SECONDS"])
@pytest.mark.parametrize("value", ["0", "0.5", "-1", "301", "soon"])
def test_a_bad_deadline_for_slow_clients_is_named_with_its_range(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    for good_name, good in GOOD.items():
        monkeypatch.setenv(good_name, good)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    report = caught.value.report()
    assert name in report
    assert "seconds, 1 to 300 (default 10)" in report


# --- capture -------------------------------------------------------------------------


def test_the_feedback_reaction_defaults_to_inbox_tray_and_empty_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load_settings().feedback_reaction == "inbox_tray"
    monkeypatch.setenv("FEEDBACK_REACTION", ":ticket:")
    assert load_settings().feedback_reaction == "ticket"
    monkeypatch.setenv("FEEDBACK_REACTION", "")
    assert load_settings().feedback_reaction == ""


def test_a_feedback_reaction_that_is_no_emoji_name_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FEEDBACK_REACTION", "Inbox Tray")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "FEEDBACK_REACTION must be an emoji's name" in error.value.report()


def test_feedback_admins_are_slack_user_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FEEDBACK_ADMINS", " U0123ABCD, W0456EFGH ,")
    assert load_settings(None).feedback_admin_ids() == {"U0123ABCD", "W0456EFGH"}
    monkeypatch.setenv("FEEDBACK_ADMINS", "U0123ABCD,@jane")
    with pytest.raises(SettingsError) as refused:
        load_settings(None)
    assert "FEEDBACK_ADMINS must be Slack user ids" in refused.value.report()


def test_metrics_are_open_and_logs_text_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("METRICS_TOKEN", "")
    settings = load_settings()
    assert settings.metrics_token is None
    assert settings.log_format == "text"
    monkeypatch.setenv("METRICS_TOKEN", "scrape-token-123")
    monkeypatch.setenv("LOG_FORMAT", " JSON ")
    settings = load_settings()
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "scrape-token-123"
    assert "scrape-token-123" not in repr(settings)
    assert settings.log_format == "json"


def test_an_unknown_log_format_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "LOG_FORMAT" in raised.value.report()
    assert "text (the default" in raised.value.report()


def test_a_sqlite_write_waits_10_s_for_a_lock_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load_settings().sqlite_busy_timeout_ms() == 10_000
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_SECONDS", "1.5")
    assert load_settings().sqlite_busy_timeout_ms() == 1_500
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_SECONDS", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "SQLITE_BUSY_TIMEOUT_SECONDS" in caught.value.report()


def test_a_captured_message_waits_2_s_for_its_turn_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load_settings().automatic_settle_seconds == 2.0
    monkeypatch.setenv("AUTOMATIC_SETTLE_SECONDS", "0.5")
    assert load_settings().automatic_settle_seconds == 0.5
    monkeypatch.setenv("AUTOMATIC_SETTLE_SECONDS", "0")
    assert load_settings().automatic_settle_seconds == 0.0
    for bad in ("-1", "61", "soon"):
        monkeypatch.setenv("AUTOMATIC_SETTLE_SECONDS", bad)
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert "AUTOMATIC_SETTLE_SECONDS" in caught.value.report()
        assert "0 to 60 (default 2)" in caught.value.report()

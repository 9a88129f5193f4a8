"""The flood limits' pure parts: when one more message goes over, the limits in words, the admins'
message, and the settings they come from."""

from __future__ import annotations

import pytest

from bot.floods import NO_LIMITS, FloodLimits, Limit, Scope, flood_alert_text, flood_limits, over_limit
from bot.settings import Settings

REQUIRED = {"slack_bot_token": "xoxb-test", "slack_app_token": "xapp-test", "productlane_api_key": "pl_v2_x"}


def test_the_author_limit_comes_first_then_the_channel() -> None:
    limit = Limit(per_author=3, per_channel=5)
    assert over_limit(Scope.AUTOMATIC, limit, by_author=2, in_channel=4) is None
    assert over_limit(Scope.AUTOMATIC, limit, by_author=3, in_channel=0) == (
        "more than 3 new threads by one author in an hour"
    )
    assert over_limit(Scope.FOLLOWUP, limit, by_author=0, in_channel=5) == (
        "more than 5 follow-ups in one channel in an hour"
    )


def test_zero_is_no_limit() -> None:
    assert over_limit(Scope.AUTOMATIC, Limit(0, 0), by_author=10**6, in_channel=10**6) is None
    assert over_limit(Scope.FOLLOWUP, Limit(0, 2), by_author=10**6, in_channel=1) is None
    assert NO_LIMITS.of(Scope.FOLLOWUP) == Limit(0, 0)


def test_the_defaults_and_the_settings_that_change_them() -> None:
    defaults = flood_limits(Settings(**REQUIRED, _env_file=None))  # type: ignore[arg-type]
    assert defaults == FloodLimits(automatic=Limit(20, 100), followups=Limit(120, 600))
    assert defaults.describe() == (
        "automatic capture, new threads: 20 per author, 100 per channel an hour; "
        "follow-ups: 120 per author, 600 per channel an hour"
    )
    changed = Settings(
        **REQUIRED,  # type: ignore[arg-type]
        automatic_per_author_hour=0,
        followups_per_channel_hour=1000,
        _env_file=None,
    )
    assert flood_limits(changed).describe().startswith("automatic capture, new threads: no limit per author")
    assert flood_limits(changed).followups == Limit(120, 1000)


def test_a_negative_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import SettingsError, load_settings

    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-t",
        "SLACK_APP_TOKEN": "xapp-t",
        "PRODUCTLANE_API_KEY": "k",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FOLLOWUPS_PER_AUTHOR_HOUR", "-1")
    with pytest.raises(SettingsError) as refused:
        load_settings(None)
    assert "FOLLOWUPS_PER_AUTHOR_HOUR" in refused.value.report()
    assert "0 for no limit" in refused.value.report()


def test_the_admins_message_says_what_happened_that_nothing_is_lost_and_what_to_do() -> None:
    text = flood_alert_text(Scope.AUTOMATIC, "C0FEEDBACK", "more than 20 new threads by one author", 90)
    assert "<#C0FEEDBACK> went over a flood limit: more than 20 new threads by one author." in text
    assert "*held* — kept, not sent to Productlane" in text
    assert "*File*" in text
    assert "*Drop*" in text
    assert "deleted after 90 days (OUTBOX_RETENTION_DAYS)" in text
    assert "<script>" not in flood_alert_text(Scope.FOLLOWUP, "C1", "<script>", 1)

"""`productlane-slack check`: a ✓/✗ checklist with fixes, against loopback Slack and Productlane."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.budgets.key_pause import KeyPause
from bot.check import run_checks
from bot.productlane import ProductlaneClient, ReadRetries
from bot.settings import Settings
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_catalog import CATALOG_SCOPES
from tests.fakes.slack import DEFAULT_SCOPES, FakeSlack
from tests.running_bot import run_command

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def productlane() -> Iterator[FakeProductlane]:
    with FakeProductlane() as fake:
        yield fake


def settings_for(slack: FakeSlack, productlane: FakeProductlane, **changes: str) -> Settings:
    values = {
        "slack_bot_token": slack.bot_token,
        "slack_app_token": slack.app_token,
        "slack_api_url": slack.api_url,
        "productlane_api_key": productlane.api_key,
        "productlane_api_url": productlane.url,
        **changes,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def run(settings: Settings) -> tuple[int, str]:
    lines: list[str] = []
    status = run_checks(settings, echo=lines.append)
    return status, "\n".join(lines)


def test_a_good_setup_passes_every_check(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert "✓ Slack bot token (auth.test): workspace Acme (T0ACME0001)" in output
    assert "✓ Bot scopes cover manifest.yml" in output
    assert "✓ Socket mode (apps.connections.open)" in output
    assert "✓ Productlane API key (GET /me)" in output
    assert "All checks passed." in output
    assert "✗" not in output


def test_a_missing_scope_is_named_with_the_fix(slack: FakeSlack, productlane: FakeProductlane) -> None:
    slack.web.scopes = [scope for scope in DEFAULT_SCOPES if scope != "users:read.email"]
    status, output = run(settings_for(slack, productlane))
    assert status == 1
    assert "✗ Bot scopes cover manifest.yml: missing: users:read.email" in output
    assert "reinstall the app" in output


def test_a_revoked_bot_token_fails_with_the_fix(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane, slack_bot_token="xoxb-revoked"))
    assert status == 1
    assert "✗ Slack bot token (auth.test): Slack refused the token: invalid_auth" in output
    assert "Bot User OAuth Token" in output
    assert "xoxb-revoked" not in output


def test_a_bad_app_token_fails_socket_mode(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane, slack_app_token="xapp-wrong"))
    assert status == 1
    assert "✗ Socket mode (apps.connections.open)" in output
    assert "connections:write" in output


def test_http_mode_skips_the_socket_check(slack: FakeSlack, productlane: FakeProductlane) -> None:
    settings = settings_for(slack, productlane, slack_app_token="", slack_signing_secret="shh")
    status, output = run(settings)
    assert status == 0, output
    assert "– Socket mode (apps.connections.open): SLACK_APP_TOKEN is not set" in output


def test_a_key_without_threads_write_fails(slack: FakeSlack, productlane: FakeProductlane) -> None:
    productlane.set_scopes(["threads:read"])
    status, output = run(settings_for(slack, productlane))
    assert status == 1
    assert "✗ Productlane API key (GET /me): the key lacks threads:write" in output


def test_a_wrong_productlane_key_fails(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane, productlane_api_key="pl_v2_wrong"))
    assert status == 1
    assert "✗ Productlane API key (GET /me)" in output
    assert "pl_v2_wrong" not in output


def test_unreachable_services_fail_without_a_traceback(productlane: FakeProductlane) -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-x",
        slack_app_token="xapp-x",
        slack_api_url="http://127.0.0.1:9/api/",
        productlane_api_key="pl_v2_x",
        productlane_api_url="http://127.0.0.1:9/api/v2",
    )
    lines: list[str] = []
    # No retry after a refused connection (slack_sdk's waits a second): it changes nothing here.
    web = WebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/", timeout=2, retry_handlers=[])
    client = ProductlaneClient(
        "pl_v2_x", "http://127.0.0.1:9/api/v2", retries=ReadRetries(max_get_attempts=1)
    )
    status = run_checks(settings, web_client=web, productlane=client, echo=lines.append)
    assert status == 1
    assert "could not reach Slack" in "\n".join(lines)


@pytest.mark.e2e
def test_the_check_command_runs_from_the_environment(
    slack: FakeSlack, productlane: FakeProductlane, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "PRODUCTLANE_API_KEY": productlane.api_key,
        "PRODUCTLANE_API_URL": productlane.url,
    }
    result = run_command([sys.executable, "-m", "bot", "check"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed." in result.stdout


def test_a_delivery_paused_for_the_key_is_shown_with_the_fix(
    slack: FakeSlack, productlane: FakeProductlane, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    with outbox_at(url) as outbox:
        for key in ("V1:h", "V2:h"):
            outbox.add(key, "create_thread", {})
        KeyPause(outbox.database).record_key_problem(
            "productlane:T0ACME0001",
            "unsupported_key_version",
            "Productlane refused the API key (unsupported_key_version: a v1 key): create a v2 API key.",
            probe_at=datetime.now(UTC),
        )
    status, output = run(settings_for(slack, productlane, database_url=url))
    assert status == 1
    assert (
        "✗ Delivery (outbox): paused: 2 submission(s) waiting because Productlane refused the API key "
        "(unsupported_key_version)"
    ) in output
    assert "    fix: Productlane refused the API key (unsupported_key_version: a v1 key)" in output
    assert "resumes by itself" in output


def test_delivery_passes_when_nothing_is_paused(
    slack: FakeSlack, productlane: FakeProductlane, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    outbox_at(url).close()
    status, output = run(settings_for(slack, productlane, database_url=url))
    assert status == 0, output
    assert "✓ Delivery (outbox): 0 waiting, 0 failed" in output


def test_check_does_not_create_the_outbox(
    slack: FakeSlack, productlane: FakeProductlane, tmp_path: Path
) -> None:
    database = tmp_path / "never.db"
    status, output = run(settings_for(slack, productlane, database_url=f"sqlite:///{database}"))
    assert status == 0, output
    assert "– Delivery (outbox): no outbox yet" in output
    assert not database.exists()


def test_webhooks_configured_are_reported(slack: FakeSlack, productlane: FakeProductlane) -> None:
    settings = settings_for(slack, productlane, productlane_webhook_secret="whsec_x")
    status, output = run(settings)
    assert status == 0, output
    assert "✓ Productlane → Slack updates: webhooks: signed POST /productlane/webhooks on PORT 3000" in output
    assert "names not shown (the key lacks issues:read, projects:read)" in output
    assert "whsec_x" not in output


def test_without_a_secret_polling_is_reported_with_its_limits(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert "✓ Productlane → Slack updates: polling every 60 s (no PRODUCTLANE_WEBHOOK_SECRET)" in output
    assert "links, 'shipped' and the team's replies need webhooks" in output


def test_polling_needs_threads_read(slack: FakeSlack, productlane: FakeProductlane) -> None:
    productlane.set_scopes(["threads:write"])
    status, output = run(settings_for(slack, productlane))
    assert status == 1
    assert "✗ Productlane → Slack updates: polling every 60 s" in output
    assert "lacks threads:read" in output


def test_updates_turned_off_are_skipped(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane, productlane_poll_seconds="0"))
    assert status == 0, output
    assert "– Productlane → Slack updates: off" in output


def test_a_key_without_files_write_passes_and_says_what_that_means(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    productlane.set_scopes(["threads:read", "threads:write"])
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert "without files:write, screenshots stay links to Slack" in output
    productlane.set_scopes(["threads:read", "threads:write", "files:write"])
    status, output = run(settings_for(slack, productlane))
    assert "threads:write and files:write granted" in output


def test_the_listening_line_says_who_reaches_metrics(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert "✓ Listening (BIND_ADDRESS, PORT): port 3000 of 0.0.0.0: /metrics is open to whoever" in output
    status, output = run(settings_for(slack, productlane, metrics_token="scrape-me"))
    assert "port 3000 of 0.0.0.0: /metrics asks for METRICS_TOKEN" in output
    assert "scrape-me" not in output
    status, output = run(settings_for(slack, productlane, bind_address="127.0.0.1"))
    assert status == 0, output
    assert "port 3000 of 127.0.0.1: this machine only" in output


def test_the_deadlines_for_slow_clients_are_shown(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert (
        "✓ Slow clients (HTTP_HEADERS_DEADLINE_SECONDS, HTTP_BODY_DEADLINE_SECONDS): a connection is "
        "closed unless it sends headers within 10 s of the first byte, then the body within 10 s plus "
        "1 s per 64 KiB"
    ) in output
    status, output = run(
        settings_for(slack, productlane, http_headers_deadline_seconds="2.5", http_body_deadline_seconds="30")
    )
    assert status == 0, output  # an operator's choice: never a failed check
    assert "headers within 2.5 s of the first byte, then the body within 30 s plus 1 s per 64 KiB" in output


def test_the_write_budget_is_shown_with_how_it_departs_from_productlanes_limit(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert (
        "✓ Write budget (PRODUCTLANE_WRITES_PER_MINUTE): 60 writes a minute to Productlane, shared by every "
        "replica on this database (Productlane's documented limit per key)"
    ) in output
    status, output = run(settings_for(slack, productlane, productlane_writes_per_minute="40"))
    assert status == 0, output
    assert "40 writes a minute to Productlane" in output
    assert "the rest of Productlane's 60 is left to whatever else uses the key" in output
    status, output = run(settings_for(slack, productlane, productlane_writes_per_minute="600"))
    assert status == 0, output  # a plan may allow it: never a failed check
    assert "600 writes a minute to Productlane" in output
    assert "above Productlane's documented 60, for a plan that allows it" in output


def test_the_upload_budget_is_shown_with_how_it_departs_from_the_default(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert (
        "✓ Upload budget (PRODUCTLANE_UPLOADS_PER_MINUTE): 29 file uploads a minute to Productlane, each "
        "one of the writes above (one under Productlane's documented 30 per key)"
    ) in output
    status, output = run(settings_for(slack, productlane, productlane_uploads_per_minute="10"))
    assert status == 0, output
    assert "10 file uploads a minute to Productlane" in output
    assert "the rest of Productlane's 30 is left to whatever else uploads with the key" in output
    status, output = run(settings_for(slack, productlane, productlane_uploads_per_minute="120"))
    assert status == 0, output  # a plan may allow it: never a failed check
    assert "120 file uploads a minute to Productlane" in output
    assert "above the default 29 under Productlane's documented 30, for a plan that allows it" in output


def test_the_home_line_says_how_often_a_home_is_published_again(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert (
        "✓ App Home (HOME_REPUBLISH_SECONDS): a person's Home is published again at most every 5 s "
        "while their feedback changes"
    ) in output
    status, output = run(settings_for(slack, productlane, home_republish_seconds="30"))
    assert "at most every 30 s" in output


# --- triage ---------------------------------------------------------------------------


def triage_line(output: str) -> str:
    return next(line for line in output.splitlines() if "Triage fields in the modal" in line)


def test_triage_fields_the_key_serves_are_listed(slack: FakeSlack, productlane: FakeProductlane) -> None:
    productlane.set_scopes(["threads:read", "threads:write", *CATALOG_SCOPES])
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert triage_line(output) == "✓ Triage fields in the modal: Company, Link to, Tags, Assignee"


def test_the_scope_each_missing_triage_field_needs_is_named(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    productlane.set_scopes(["threads:read", "threads:write", "companies:read", "projects:read"])
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output  # optional fields: never a failed check
    assert triage_line(output) == (
        "✓ Triage fields in the modal: Company, Link to (projects only); issues in Link to need issues:read; "
        "Tags needs tags:read; Assignee needs admin"
    )
    productlane.set_scopes(["threads:read", "threads:write"])
    assert triage_line(run(settings_for(slack, productlane))[1]).startswith(
        "✓ Triage fields in the modal: none (the modal is as it was without them); "
        "Company needs companies:read"
    )


def test_triage_turned_off_is_skipped(slack: FakeSlack, productlane: FakeProductlane) -> None:
    status, output = run(settings_for(slack, productlane, catalog_refresh_seconds="0"))
    assert status == 0, output
    assert triage_line(output) == "– Triage fields in the modal: off (CATALOG_REFRESH_SECONDS=0)"
    assert not productlane.requests_to("GET", "/companies")


def test_the_flood_limits_are_shown_with_what_they_hold(
    slack: FakeSlack, productlane: FakeProductlane
) -> None:
    status, output = run(settings_for(slack, productlane))
    assert status == 0, output
    assert (
        "✓ Flood limits: automatic capture, new threads: 20 per author, 100 per channel an hour; "
        "follow-ups: 120 per author, 600 per channel an hour"
    ) in output
    status, output = run(settings_for(slack, productlane, automatic_per_channel_hour="0"))
    assert status == 0, output
    assert "20 per author, no limit per channel an hour" in output

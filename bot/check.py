"""`productlane-slack check`: prove a set-up before first use.

Each check talks to one outside system and turns what it learns into a `CheckResult`; rendering the
checklist is a pure function of those results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.budgets.file_copies import UPLOAD_PACE_PER_MINUTE
from bot.budgets.key_pause import KEY_PROBE_SECONDS, KeyPause
from bot.conversation import describe_route
from bot.conversation.store import FollowUpStore, Route
from bot.delivery.outbox import Outbox, Status
from bot.floods import NO_LIMITS, FloodStore, flood_limits
from bot.productlane import Me, ProductlaneClient, ProductlaneError
from bot.productlane.uploads import UPLOADS_PER_MINUTE
from bot.settings import Settings
from bot.slack.ids import REQUIRED_BOT_SCOPES
from bot.tables import open_database
from bot.triage.check import readable_lists, triage_detail
from bot.updates.service import describe_mode, mode_of
from bot.web.slow_clients import ReadDeadlines

Outcome = Literal["pass", "fail", "skip"]
MARKS: dict[Outcome, str] = {"pass": "✓", "fail": "✗", "skip": "–"}


@dataclass(frozen=True)
class CheckResult:
    title: str
    outcome: Outcome
    detail: str = ""
    fix: str = ""


def _slack_error_text(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or "unknown_error")
    return type(error).__name__


def check_slack_bot(client: WebClient) -> list[CheckResult]:
    """auth.test proves the bot token; its `x-oauth-scopes` header shows what was granted."""
    title = "Slack bot token (auth.test)"
    try:
        response = client.auth_test()
    except SlackApiError as error:
        code = _slack_error_text(error)
        return [
            CheckResult(
                title,
                "fail",
                f"Slack refused the token: {code}",
                "Copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into "
                "SLACK_BOT_TOKEN; reinstall the app if it was revoked.",
            ),
            CheckResult("Bot scopes", "skip", "needs a valid bot token"),
        ]
    except Exception as error:  # network: the host is unreachable, DNS, TLS
        return [
            CheckResult(
                title,
                "fail",
                f"could not reach Slack ({type(error).__name__})",
                "Check the network and SLACK_API_URL.",
            ),
            CheckResult("Bot scopes", "skip", "needs Slack to answer"),
        ]
    workspace = f"{response.get('team')} ({response.get('team_id')})"
    bot_user = f"@{response.get('user')} ({response.get('user_id')})"
    results = [CheckResult(title, "pass", f"workspace {workspace}, bot user {bot_user}")]
    results.append(scope_result(_granted_scopes(response.headers)))
    return results


def _granted_scopes(headers: dict[str, object]) -> set[str] | None:
    for name, value in headers.items():
        if name.lower() == "x-oauth-scopes":
            text = value[0] if isinstance(value, list) and value else value
            return {scope.strip() for scope in str(text).split(",") if scope.strip()}
    return None


def scope_result(granted: set[str] | None, required: Sequence[str] = REQUIRED_BOT_SCOPES) -> CheckResult:
    title = "Bot scopes cover manifest.yml"
    if granted is None:
        return CheckResult(title, "fail", "Slack did not say which scopes the token has")
    missing = [scope for scope in required if scope not in granted]
    if missing:
        return CheckResult(
            title,
            "fail",
            "missing: " + ", ".join(missing),
            "Add them under OAuth & Permissions → Bot Token Scopes (or update the app from "
            "manifest.yml), then reinstall the app to the workspace.",
        )
    return CheckResult(title, "pass", f"all {len(required)} granted")


def check_socket_mode(client: WebClient, app_token: str | None) -> CheckResult:
    title = "Socket mode (apps.connections.open)"
    if app_token is None:
        return CheckResult(title, "skip", "SLACK_APP_TOKEN is not set: the bot runs in HTTP mode")
    try:
        client.apps_connections_open(app_token=app_token)
    except SlackApiError as error:
        return CheckResult(
            title,
            "fail",
            f"Slack refused the app token: {_slack_error_text(error)}",
            "Create an App-Level Token with connections:write (Basic Information → App-Level "
            "Tokens) into SLACK_APP_TOKEN, and enable Socket Mode for the app.",
        )
    except Exception as error:
        return CheckResult(
            title, "fail", f"could not reach Slack ({type(error).__name__})", "Check the network."
        )
    return CheckResult(title, "pass", "a socket-mode connection can be opened")


def check_productlane(client: ProductlaneClient) -> CheckResult:
    title = "Productlane API key (GET /me)"
    try:
        me = client.me()
    except ProductlaneError as error:
        return CheckResult(title, "fail", error.user_message, _productlane_fix(error))
    if not me.has_scope("threads:write"):
        return CheckResult(
            title,
            "fail",
            f"the key lacks threads:write (granted: {', '.join(me.scopes) or 'none'})",
            "Create a Productlane API key with the threads:write scope into PRODUCTLANE_API_KEY.",
        )
    if not me.has_scope("files:write"):
        # Not a failure: feedback still goes, its files stay links to Slack instead of copies.
        return CheckResult(
            title,
            "pass",
            f"workspace {me.workspace_id}, threads:write granted; without files:write, "
            "screenshots stay links to Slack instead of being copied into Productlane",
        )
    return CheckResult(title, "pass", f"workspace {me.workspace_id}, threads:write and files:write granted")


def check_updates(settings: Settings, me: Me | None) -> CheckResult:
    """How Productlane's changes reach Slack: webhooks, polling, or not at all (``me``: the key's
    scopes, None when they could not be read)."""
    title = "Productlane → Slack updates"
    mode = mode_of(settings)
    detail = describe_mode(settings)
    if mode == "off":
        return CheckResult(title, "skip", detail)
    if me is None:
        return CheckResult(title, "pass", detail)
    if mode == "polling" and not me.has_scope("threads:read"):
        return CheckResult(
            title,
            "fail",
            f"{detail}; but the key lacks threads:read",
            "Give the Productlane API key the threads:read scope, or set up the webhook "
            "(PRODUCTLANE_WEBHOOK_SECRET; see the README's 'Close the loop').",
        )
    missing = [scope for scope in ("issues:read", "projects:read") if not me.has_scope(scope)]
    if mode == "webhooks" and missing:
        detail += f"; issue/project names not shown (the key lacks {', '.join(missing)})"
    return CheckResult(title, "pass", detail)


def check_home(settings: Settings) -> CheckResult:
    """How fresh people's App Homes are kept. Never a failure: any allowed value works."""
    every = f"{settings.home_republish_seconds:g}"
    return CheckResult(
        "App Home (HOME_REPUBLISH_SECONDS)",
        "pass",
        f"a person's Home is published again at most every {every} s while their feedback changes",
    )


def check_followups(settings: Settings, me: Me | None, routes: list[Route]) -> CheckResult:
    """How people's replies in Slack reach Productlane: as comments, or by re-rendering the body
    instead. ``routes``: what a running bot found out (empty before it first sent one)."""
    title = "Follow-ups (Slack → Productlane)"
    detail = describe_route(settings.followup_days, me.scopes if me is not None else None, routes)
    return CheckResult(title, "skip" if settings.followup_days <= 0 else "pass", detail)


# Productlane's documented write limit per API key.
DOCUMENTED_WRITES_PER_MINUTE = 60


def check_write_budget(settings: Settings) -> CheckResult:
    """The bot's share of the key's writes. Never a failure: too high a share shows as 429s, which
    the bot waits out; the line says which way it departs from Productlane's documented limit."""
    title = "Write budget (PRODUCTLANE_WRITES_PER_MINUTE)"
    rate = settings.productlane_writes_per_minute
    shared = f"{rate:,} writes a minute to Productlane, shared by every replica on this database"
    if rate < DOCUMENTED_WRITES_PER_MINUTE:
        detail = (
            f"{shared}; the rest of Productlane's {DOCUMENTED_WRITES_PER_MINUTE} is left to whatever "
            "else uses the key"
        )
    elif rate > DOCUMENTED_WRITES_PER_MINUTE:
        detail = (
            f"{shared}; above Productlane's documented {DOCUMENTED_WRITES_PER_MINUTE}, for a plan that "
            "allows it (otherwise Productlane answers 429 and delivery waits)"
        )
    else:
        detail = f"{shared} (Productlane's documented limit per key)"
    return CheckResult(title, "pass", detail)


# Productlane's documented limit on file uploads per API key, and the bot's default pace under it.
DOCUMENTED_UPLOADS_PER_MINUTE = UPLOADS_PER_MINUTE
DEFAULT_UPLOADS_PER_MINUTE = UPLOAD_PACE_PER_MINUTE


def check_upload_budget(settings: Settings) -> CheckResult:
    """The bot's share of the key's file uploads. Never a failure, as for the writes: too high a
    share shows as 429s, which the bot waits out (or sends the files as links after a while)."""
    title = "Upload budget (PRODUCTLANE_UPLOADS_PER_MINUTE)"
    rate = settings.productlane_uploads_per_minute
    shared = f"{rate:,} file uploads a minute to Productlane, each one of the writes above"
    if rate < DEFAULT_UPLOADS_PER_MINUTE:
        detail = (
            f"{shared}; the rest of Productlane's {DOCUMENTED_UPLOADS_PER_MINUTE} is left to whatever "
            "else uploads with the key"
        )
    elif rate > DEFAULT_UPLOADS_PER_MINUTE:
        detail = (
            f"{shared}; above the default {DEFAULT_UPLOADS_PER_MINUTE} under Productlane's documented "
            f"{DOCUMENTED_UPLOADS_PER_MINUTE}, for a plan that allows it (otherwise Productlane answers "
            "429 and the files wait)"
        )
    else:
        detail = f"{shared} (one under Productlane's documented {DOCUMENTED_UPLOADS_PER_MINUTE} per key)"
    return CheckResult(title, "pass", detail)


LOOPBACK = ("127.0.0.1", "::1")


def check_listening(settings: Settings) -> CheckResult:
    """Who can reach PORT, and whether /metrics asks them for a token. Never a failure: every
    interface is what a container needs; the line says what that opens."""
    title = "Listening (BIND_ADDRESS, PORT)"
    where = f"port {settings.port} of {settings.bind_address}"
    if settings.bind_address in LOOPBACK:
        return CheckResult(title, "pass", f"{where}: this machine only")
    if settings.metrics_token is None:
        return CheckResult(
            title,
            "pass",
            f"{where}: /metrics is open to whoever reaches it (counts, never content); set "
            "METRICS_TOKEN, or BIND_ADDRESS=127.0.0.1 where nothing else needs the port",
        )
    return CheckResult(title, "pass", f"{where}: /metrics asks for METRICS_TOKEN")


def check_slow_clients(settings: Settings) -> CheckResult:
    """How long a client on PORT may take to send a request before it is closed. Never a failure:
    Slack sends a whole request in milliseconds, far inside any deadline the settings allow."""
    title = "Slow clients (HTTP_HEADERS_DEADLINE_SECONDS, HTTP_BODY_DEADLINE_SECONDS)"
    return CheckResult(
        title, "pass", f"a connection is closed unless it sends {ReadDeadlines.of(settings).describe()}"
    )


def check_flood_limits(settings: Settings, held: int | None) -> CheckResult:
    """The limits per author and per channel, and what they hold now (``held``: None when the
    database could not be read). Never a failure: what is held waits for an admin, kept."""
    detail = flood_limits(settings).describe()
    if held:
        detail += f"; {held:,} held now: an admin files or drops them on the bot's App Home"
    elif held == 0:
        detail += "; nothing held"
    return CheckResult("Flood limits", "pass", detail)


def _productlane_fix(error: ProductlaneError) -> str:
    if error.status in (401, 403, 410):
        return "Create a v2 API key (pl_v2_…) with threads:write into PRODUCTLANE_API_KEY."
    return "Check the network and PRODUCTLANE_API_URL, then run check again."


def check_triage(settings: Settings, client: ProductlaneClient) -> CheckResult:
    """Which triage fields the modal can offer with this key. Never a failure: every
    field is optional, and without them the modal is as it always was."""
    title = "Triage fields in the modal"
    if settings.catalog_refresh_seconds <= 0:
        return CheckResult(title, "skip", "off (CATALOG_REFRESH_SECONDS=0)")
    return CheckResult(title, "pass", triage_detail(readable_lists(client)))


DELIVERY = "Delivery (outbox)"


def check_delivery(outbox: Outbox) -> CheckResult:
    """Is delivery paused because Productlane refused the key? The running bot stored it there."""
    counts = outbox.counts()
    waiting = counts[Status.PENDING] + counts[Status.SENDING]
    paused = KeyPause(outbox.database).key_problems()
    if paused:
        problem = paused[0]
        return CheckResult(
            DELIVERY,
            "fail",
            f"paused: {waiting} submission(s) waiting because Productlane refused the API key "
            f"({problem.code})",
            f"{problem.message} A running bot checks the key every {KEY_PROBE_SECONDS:.0f} s and "
            "resumes by itself once it works; a restart with a working key resumes at once. "
            "Nothing needs `outbox retry`.",
        )
    return CheckResult(DELIVERY, "pass", f"{waiting} waiting, {counts[Status.FAILED]} failed")


def _held_count(outbox: Outbox) -> int | None:
    try:
        return FloodStore(outbox.database, NO_LIMITS).held_count()
    except Exception:
        return None


def _open_outbox(database_url: str) -> Outbox | CheckResult:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # `check` runs before first use: do not create the database the bot will create.
        return CheckResult(DELIVERY, "skip", "no outbox yet (the bot creates it when it starts)")
    try:
        return Outbox(open_database(database_url))
    except Exception as error:
        # The message would carry the database URL; name only the kind of failure.
        cause = type(getattr(error, "orig", None) or error).__name__
        return CheckResult(
            DELIVERY,
            "fail",
            f"could not open the outbox ({cause})",
            "Check DATABASE_URL and that the database is reachable.",
        )


def render_checklist(results: Sequence[CheckResult]) -> str:
    lines: list[str] = []
    for result in results:
        line = f"{MARKS[result.outcome]} {result.title}"
        if result.detail:
            line += f": {result.detail}"
        lines.append(line)
        if result.outcome == "fail" and result.fix:
            lines.append(f"    fix: {result.fix}")
    failed = sum(result.outcome == "fail" for result in results)
    lines.append("All checks passed." if not failed else f"{failed} check(s) failed.")
    return "\n".join(lines)


def run_checks(
    settings: Settings,
    *,
    web_client: WebClient | None = None,
    productlane: ProductlaneClient | None = None,
    outbox: Outbox | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Run every check, print the checklist, and return the process exit status."""
    web_client = web_client or WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base_url(),
        timeout=10,
    )
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    results = check_slack_bot(web_client)
    results.append(check_socket_mode(web_client, app_token))
    owns_client = productlane is None
    productlane = productlane or ProductlaneClient(
        settings.productlane_api_key.get_secret_value(), settings.productlane_api_url
    )
    me: Me | None = None
    try:
        results.append(check_productlane(productlane))
        try:
            me = productlane.me()
        except ProductlaneError:
            me = None  # already reported above
        results.append(check_write_budget(settings))
        results.append(check_upload_budget(settings))
        results.append(check_listening(settings))
        results.append(check_slow_clients(settings))
        results.append(check_home(settings))
        results.append(check_updates(settings, me))
        if me is not None:
            results.append(check_triage(settings, productlane))
    finally:
        if owns_client:
            productlane.close()
    opened = outbox if outbox is not None else _open_outbox(settings.database_url)
    if isinstance(opened, CheckResult):
        results.append(check_followups(settings, me, []))
        results.append(check_flood_limits(settings, None))
        results.append(opened)
    else:
        try:
            results.append(check_followups(settings, me, FollowUpStore(opened.database).routes()))
            results.append(check_flood_limits(settings, _held_count(opened)))
            results.append(check_delivery(opened))
        finally:
            if outbox is None:
                opened.database.close()
    echo(render_checklist(results))
    return 1 if any(result.outcome == "fail" for result in results) else 0

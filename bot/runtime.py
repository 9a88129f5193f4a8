"""Running the bot: socket mode when SLACK_APP_TOKEN is set (local), else HTTP (production)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Bot, build_bot
from bot.message_events.socket_mode import MessageFilteringHandler
from bot.settings import Settings
from bot.updates import describe_mode

if TYPE_CHECKING:
    from bot.web.routes import Route
    from bot.web.server import HttpServer

log = logging.getLogger("bot")

# slack_sdk's socket-mode client reads frames recursively, one level per read of this size while
# data waits: Bolt's default (1 KiB) hits Python's recursion limit under a burst of whole-view
# submissions (a few MB queued), and the envelopes are lost. 64 KiB keeps it a few levels deep.
RECEIVE_BUFFER_BYTES = 64 * 1024
# Slack gives up on an ack after 3 s; a client still sending its body after 10 s is not Slack.
HTTP_GRACE_SECONDS = 10.0
HEALTH_GRACE_SECONDS = 2.0
# The main thread only waits for the stop; between waits it runs the bot's timed chores.
TICK_SECONDS = 1.0


def _tick_until(bot: Bot, stop: threading.Event, running: Callable[[], bool] = lambda: True) -> bool:
    """Run the bot's timed chores once a second until `stop` is set (True) or `running` says the
    bot cannot go on (False). The first run is at once, not a second in: a new process's chores
    (the catalog's first refresh, which the modal's triage fields wait on) start as it connects."""
    while running():
        bot.tick()
        if stop.wait(timeout=TICK_SECONDS):
            return True
    return False


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def run_bot(settings: Settings, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    try:
        bot = build_bot(settings)
    except SlackApiError as error:
        log.error(
            "Slack refused the bot token (%s). Run `productlane-slack check` for details.",
            error.response.get("error"),
        )
        return 1
    except SQLAlchemyError as error:
        # The message would carry the database URL; name only the kind of failure.
        cause = type(getattr(error, "orig", None) or error).__name__
        log.error("could not open the outbox database in DATABASE_URL (%s); is it reachable?", cause)
        return 1
    except OSError as error:
        log.error(
            "could not reach Slack at SLACK_API_URL (%s). Run `productlane-slack check`.",
            type(error).__name__,
        )
        return 1
    bot.start()
    try:
        if settings.socket_mode:
            return _run_socket_mode(bot, settings, stop)
        return _run_http(bot, settings, stop)
    finally:
        bot.close()
        log.info("stopped")


def _connected_line(bot: Bot, mode: str) -> str:
    return (
        f"connected to Slack workspace {bot.workspace_name} ({bot.identity.team_id}) "
        f"as bot user {bot.identity.user_id}, {mode}"
    )


def _run_socket_mode(bot: Bot, settings: Settings, stop: threading.Event) -> int:
    assert settings.slack_app_token is not None  # noqa: S101 - socket_mode implies it
    handler = MessageFilteringHandler(
        bot.app,
        settings.slack_app_token.get_secret_value(),
        bot.message_events,
        receive_buffer_size=RECEIVE_BUFFER_BYTES,
        concurrency=4,
    )
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals(stop)
    handler.connect()  # type: ignore[no-untyped-call]
    log.info(_connected_line(bot, "socket mode"))
    log.info("Productlane → Slack updates: %s", describe_mode(settings))
    # After the connected line: the health server's import and start never delay it.
    probes = _serve_health_probes(bot, settings)
    _tick_until(bot, stop)
    # No new envelopes from here; every acked submission is already in the outbox.
    handler.close()
    if probes is not None:
        probes.stop(grace_seconds=HEALTH_GRACE_SECONDS)
    return 0


def _routes_beside_slack(bot: Bot, settings: Settings) -> list[Route]:
    """What PORT serves in either mode: the metrics, the health probes, and Productlane's webhooks
    when a secret is set."""
    from bot.updates import MAX_BODY_BYTES, WEBHOOK_PATH
    from bot.web.health import health_routes
    from bot.web.metrics import metrics_route
    from bot.web.webhooks import productlane_webhooks_route

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    routes = [metrics_route(bot.delivery_health, token)]
    routes += health_routes(bot.readiness_problems, bot.readiness_notices)
    if bot.updates.webhooks_enabled:
        routes.append(productlane_webhooks_route(WEBHOOK_PATH, bot.updates.receive_webhook, MAX_BODY_BYTES))
    return routes


def _serve_health_probes(bot: Bot, settings: Settings) -> HttpServer | None:
    """/healthz, /readyz and /metrics on PORT, so an orchestrator probes (and Prometheus scrapes)
    socket mode as it does HTTP mode, and Productlane's webhooks when a secret is set. A taken port
    costs only these: the bot itself needs no port in socket mode."""
    from bot.web.routes import RouteTable
    from bot.web.server import HttpServer, PortUnavailableError
    from bot.web.slow_clients import ReadDeadlines

    routes = RouteTable(_routes_beside_slack(bot, settings))
    try:
        # Webhooks come in bursts (Productlane retries, bulk edits): more threads than probes need.
        server = HttpServer(
            routes,
            settings.port,
            host=settings.bind_address,
            threads=8 if bot.updates.webhooks_enabled else 2,
            deadlines=ReadDeadlines.of(settings),
        )
    except PortUnavailableError as error:
        if bot.updates.webhooks_enabled:
            log.error("%s; Productlane's webhooks cannot arrive (set PORT to a free port)", error)
        else:
            log.warning("%s; /healthz and /readyz are not served (set PORT to a free port)", error)
        return None
    server.start()
    log.info("listening on port %d of %s (%s)", server.port, settings.bind_address, ", ".join(routes.paths()))
    return server


def _run_http(bot: Bot, settings: Settings, stop: threading.Event) -> int:
    from bot.web.routes import RouteTable
    from bot.web.server import HttpServer, PortUnavailableError
    from bot.web.slack_events import SLACK_EVENTS_PATH, slack_events_route
    from bot.web.slow_clients import ReadDeadlines

    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    routes = RouteTable(
        [slack_events_route(bot.app, bot.message_events, secret), *_routes_beside_slack(bot, settings)]
    )
    try:
        server = HttpServer(
            routes, settings.port, host=settings.bind_address, deadlines=ReadDeadlines.of(settings)
        )
    except PortUnavailableError as error:
        log.error("%s; HTTP mode needs it (set PORT to a free port)", error)
        return 1
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals(stop)
    server.start()
    log.info(_connected_line(bot, f"HTTP mode on port {server.port} ({SLACK_EVENTS_PATH})"))
    log.info("Productlane → Slack updates: %s", describe_mode(settings))
    if not _tick_until(bot, stop, lambda: server.running):
        log.error("the HTTP server stopped; exiting")
        return 1
    # Refuse new connections, answer the requests under way; bot.close() then drains the listeners.
    server.stop(grace_seconds=HTTP_GRACE_SECONDS)
    return 0

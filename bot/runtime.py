"""Running the bot: socket mode when SLACK_APP_TOKEN is set (local), else HTTP (production)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Bot, build_bot
from bot.settings import Settings

log = logging.getLogger("bot")

# slack_sdk's socket-mode client reads frames recursively, one level per read of this size while
# data waits: Bolt's default (1 KiB) hits Python's recursion limit under a burst of whole-view
# submissions (a few MB queued), and the envelopes are lost. 64 KiB keeps it a few levels deep.
RECEIVE_BUFFER_BYTES = 64 * 1024


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
        return _run_http(bot, settings)
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
    handler = SocketModeHandler(
        bot.app,
        settings.slack_app_token.get_secret_value(),
        receive_buffer_size=RECEIVE_BUFFER_BYTES,
        concurrency=4,
    )
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals(stop)
    handler.connect()  # type: ignore[no-untyped-call]
    log.info(_connected_line(bot, "socket mode"))
    stop.wait()
    # No new envelopes from here; every acked submission is already in the outbox.
    handler.close()  # type: ignore[no-untyped-call]
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run_http(bot: Bot, settings: Settings) -> int:
    if threading.current_thread() is threading.main_thread():
        # Bolt's server stops on KeyboardInterrupt; SIGTERM would otherwise skip the clean-up.
        signal.signal(signal.SIGTERM, _interrupt)
    log.info(_connected_line(bot, f"HTTP mode on port {settings.port} (/slack/events)"))
    try:
        bot.app.start(port=settings.port)
    except KeyboardInterrupt:
        log.info("stopping")
    return 0

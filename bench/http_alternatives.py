"""The bot served by another HTTP server, for bench_http's comparison only (not for production).

    python -m bench.http_alternatives bolt       # Bolt's built-in server: http.server, one request at a time
    python -m bench.http_alternatives gunicorn   # gunicorn, one gthread worker with 8 threads (if installed)

Configured like the bot, from the environment. The same bot and routes as `productlane-slack` in HTTP
mode; only the server differs.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from bot.app import Bot, build_bot
from bot.logs import configure_logging
from bot.settings import load_settings
from bot.web.health import health_routes
from bot.web.routes import RouteTable
from bot.web.slack_events import slack_events_route

THREADS = 8


def build() -> tuple[Bot, RouteTable]:
    settings = load_settings(env_file=None)
    configure_logging(settings.log_level)
    bot = build_bot(settings)
    bot.worker.start()
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    routes = [slack_events_route(bot.app, signing_secret=secret), *health_routes(bot.readiness_problems)]
    return bot, RouteTable(routes)


def serve_with_bolt(port: int) -> None:
    bot, _ = build()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    bot.app.start(port=port)


def serve_with_gunicorn(port: int) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-not-found, import-untyped, unused-ignore]

    class Gunicorn(BaseApplication):  # type: ignore[misc, unused-ignore]
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": f"0.0.0.0:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": THREADS,
                "loglevel": "warning",
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> RouteTable:
            # In the worker process: the delivery worker's thread does not survive a fork.
            return build()[1]

    Gunicorn().run()


def main() -> None:
    server = sys.argv[1]
    port = int(os.environ.get("PORT", "3000"))
    if server == "bolt":
        serve_with_bolt(port)
    elif server == "gunicorn":
        serve_with_gunicorn(port)
    else:
        raise SystemExit(f"unknown server {server!r}: bolt or gunicorn")


if __name__ == "__main__":
    main()

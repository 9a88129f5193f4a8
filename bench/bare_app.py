"""A bare Bolt app with Bolt's defaults that only acks: the baseline for bench_ack.

With BARE_WITH_LIBRARIES=1 it also loads and uses, once, the libraries the bot is built on
(SQLAlchemy with a SQLite file, pydantic-settings, waitress) and nothing of the bot: bench_start's
floor for the bot's idle memory.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

RECEIVE_BUFFER_BYTES = 64 * 1024


def load_the_bots_libraries(directory: str) -> None:
    import sqlalchemy as sa
    import waitress.server  # noqa: F401
    from pydantic_settings import BaseSettings

    class Settings(BaseSettings):
        slack_bot_token: str

    Settings()
    engine = sa.create_engine(f"sqlite:///{directory}/floor.db")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, payload TEXT)"))
        connection.execute(sa.text("INSERT INTO items (payload) VALUES ('{}')"))


def main() -> None:
    if os.environ.get("BARE_WITH_LIBRARIES") == "1":
        load_the_bots_libraries(os.getcwd())
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, token_verification_enabled=False, signing_secret="unused")  # noqa: S106 - socket mode

    @app.view_submission("productlane_feedback")
    def only_ack(ack: Any) -> None:
        ack()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Bolt's default receive buffer (1 KiB) crashes slack_sdk's built-in client under a burst of
    # whole-view submissions (RecursionError in its frame reader: one level per buffer read while
    # data is waiting); the bot reads 64 KiB at a time, and so does the baseline.
    # BARE_CONCURRENCY: Bolt's default (10) unless bench_ack --bare-concurrency asks for the bot's own.
    handler = SocketModeHandler(
        app,
        os.environ["SLACK_APP_TOKEN"],
        receive_buffer_size=RECEIVE_BUFFER_BYTES,
        concurrency=int(os.environ.get("BARE_CONCURRENCY", "10")),
    )
    handler.connect()  # type: ignore[no-untyped-call]
    stop.wait()
    handler.close()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()

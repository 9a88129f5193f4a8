"""The bot as a user runs it: the `productlane-slack` command in its own process, configured only by
environment variables, pointed at the loopback fakes; and the socket-mode moves that drive it."""

from __future__ import annotations

import codecs
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.ui.views import field_of
from tests import tiers
from tests.bot_forkserver import ForkedBot, fork_bot, forking_wanted
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlack
from tests.pace import PATIENCE, TEST_UPLOADS_PER_MINUTE, TEST_WRITES_PER_MINUTE, polls

THREAD_URL = "https://productlane.test/feedback/{id}"
FLOOD_LIMITS = (
    "AUTOMATIC_PER_AUTHOR_HOUR",
    "AUTOMATIC_PER_CHANNEL_HOUR",
    "FOLLOWUPS_PER_AUTHOR_HOUR",
    "FOLLOWUPS_PER_CHANNEL_HOUR",
)
TEST_FLOOD_LIMIT = 10_000
ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"


@dataclass
class World:
    """A running bot, the fakes it talks to, and where its output goes."""

    slack: FakeSlack
    productlane: FakeProductlane
    bot: subprocess.Popen[bytes] | ForkedBot
    log: Path
    _read: str = ""
    _offset: int = 0
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def log_text(self) -> str:
        """Everything the bot has logged so far. Tests poll this many times a second while a bot
        that serves a whole module logs for minutes: only what was appended is read each time."""
        with self._lock:
            with self.log.open("rb") as output:
                output.seek(self._offset)
                added = output.read()
            self._offset += len(added)
            self._read += self._decoder.decode(added)
            return self._read


def free_port() -> int:
    """A port nobody listens on now (tests run many bots at once; each needs its own PORT)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_environment(slack: FakeSlack, productlane: FakeProductlane, database: Path) -> dict[str, str]:
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {
        **keep,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "PRODUCTLANE_API_KEY": productlane.api_key,
        "PRODUCTLANE_API_URL": productlane.url,
        "PRODUCTLANE_THREAD_URL": THREAD_URL,
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "INFO",
        # Not Productlane's pace, unless a test is about it (tests/pace.py).
        "PRODUCTLANE_WRITES_PER_MINUTE": str(TEST_WRITES_PER_MINUTE),
        "PRODUCTLANE_UPLOADS_PER_MINUTE": str(TEST_UPLOADS_PER_MINUTE),
        # A module's shared bot files more from one author in minutes than a person does in an hour:
        # the flood limits are counted, far out of reach, unless a test is about them
        # (tests/channels/test_flood_limits_e2e.py).
        **{name: str(TEST_FLOOD_LIMIT) for name in FLOOD_LIMITS},
        # Socket mode serves its health probes here, HTTP mode everything.
        "PORT": str(free_port()),
    }


def start_bot(
    slack: FakeSlack, productlane: FakeProductlane, env: Mapping[str, str], cwd: Path, log: Path
) -> World:
    """Start the bot in the background, its output to `log`: forked from the worker's fork server
    (tests/bot_forkserver.py), or the `productlane-slack` command itself with TESTS_BOT_EXEC=1."""
    tiers.may_start("the bot")
    if forking_wanted():
        return World(slack, productlane, fork_bot([], env, cwd, log), log)
    with log.open("wb") as output:
        bot = subprocess.Popen(
            [str(ENTRY_POINT)],
            env=dict(env),
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return World(slack, productlane, bot, log)


def run_command(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command to the end, as a person at a terminal would, and capture what it printed.
    The bot's own commands (`productlane-slack …`, `python -m bot …`) are forked like the bot."""
    tiers.may_start(" ".join(argv[:3]))
    bot_args = _bot_arguments(list(argv))
    if bot_args is not None and forking_wanted():
        with tempfile.TemporaryDirectory() as scratch:
            output, errors = Path(scratch, "stdout"), Path(scratch, "stderr")
            process = fork_bot(bot_args, env, cwd, output, errors)
            try:
                status = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
            return subprocess.CompletedProcess(list(argv), status, output.read_text(), errors.read_text())
    return subprocess.run(
        list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _bot_arguments(argv: list[str]) -> list[str] | None:
    """The arguments of the bot's own command (`productlane-slack …`, `python -m bot …`), else None."""
    for prefix in ([str(ENTRY_POINT)], [sys.executable, "-m", "bot"]):
        if argv[: len(prefix)] == prefix:
            return argv[len(prefix) :]
    return None


def wait_until(condition: Callable[[], Any], what: str, timeout: float = PATIENCE) -> Any:
    deadline = time.monotonic() + timeout
    pauses = polls()
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(next(pauses))
    raise AssertionError(f"timed out waiting for {what}")


# What a bot still has to do, each a count that is 0 when it is done (see `nothing_left`).
OUTBOX_BUSY = "SELECT count(*) FROM outbox_items WHERE status IN ('pending', 'sending')"
UPDATES_BUSY = (
    "SELECT count(*) FROM updates_events WHERE status != 'applied'",
    "SELECT count(*) FROM updates_effects WHERE status IN ('pending', 'sending')",
)


def count_rows(database: Path | str, query: str, *params: object) -> int:
    """One count from the bot's database, read beside the running bot: a SQLite file, or a
    database URL (PostgreSQL; `?` placeholders as for SQLite)."""
    if isinstance(database, str):
        if database.startswith("sqlite:///"):
            database = Path(database.removeprefix("sqlite:///"))
        else:
            return _count_by_url(database, query, params)
    with sqlite3.connect(database) as connection:
        (found,) = connection.execute(query, params).fetchone()
    return int(found)


def _count_by_url(url: str, query: str, params: Sequence[object]) -> int:
    import sqlalchemy as sa

    names = [f"p{index}" for index in range(len(params))]
    for name in names:
        query = query.replace("?", f":{name}", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(query), dict(zip(names, params, strict=True))).scalar_one())
    finally:
        engine.dispose()


def nothing_left(database: Path | str, queries: Sequence[str], what: str, timeout: float = 30.0) -> None:
    """Wait until every one of `queries` counts 0 in the same look. Tests count what arrived after
    this, instead of after a fixed wait that only hopes the bot is done."""
    wait_until(lambda: all(count_rows(database, query) == 0 for query in queries), what, timeout)


def outbox_settled(database: Path | str, timeout: float = 30.0) -> None:
    """Every submission delivered (its confirmation posted) or failed: nothing more goes to
    Productlane or Slack for them."""
    nothing_left(database, [OUTBOX_BUSY], "every submission delivered or failed", timeout)


def updates_settled(world: World, *also: str) -> None:
    """Every webhook delivered and the bot done with each: each event applied, each effect in Slack
    sent or dropped (and whatever `also` counts done). After this, whatever those events were going
    to cause has happened."""
    assert world.productlane.webhooks.wait_idle(timeout=20)
    nothing_left(
        world.log.parent / "outbox.db", [*also, *UPDATES_BUSY], "every event applied and its effects sent"
    )


@contextmanager
def connected_bot(
    slack: FakeSlack, productlane: FakeProductlane, env: Mapping[str, str], home: Path
) -> Iterator[World]:
    """The bot started in `home` (its log `bot.log` there) and connected to Slack; on leaving,
    stopped with SIGTERM, and it must have exited 0."""
    world = start_bot(slack, productlane, env, home, home / "bot.log")
    try:
        wait_until(lambda: "connected to Slack" in world.log_text(), "the connected line", timeout=30)
        yield world
    finally:
        if world.bot.poll() is None:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
    assert world.bot.returncode == 0, world.log_text()


@contextmanager
def fresh_fakes(slack: FakeSlack, productlane: FakeProductlane) -> Iterator[None]:
    """Around each test of a module whose tests share one bot and its fakes: what the test set up in
    the fakes (faults, delays, held calls, canned answers, scopes) is undone after it, so the next
    test, whichever the random order makes it, finds them as the module set them up. What the bot
    keeps (its outbox, caches, log) stays: those tests count what they cause, from a mark."""
    slack_scopes, productlane_scopes = list(slack.web.scopes), list(productlane.scopes)
    try:
        yield
    finally:
        slack.web.release()
        slack.web.reset_responses()
        slack.web.reset_delays()
        slack.web.scopes = slack_scopes
        productlane.release()
        productlane.reset_faults()
        productlane.set_scopes(productlane_scopes)


def since(mark: float) -> Callable[[Call], bool]:
    return lambda call: call.time >= mark


def interact(world: World, payload: dict[str, Any], kind: str = "interactive") -> dict[str, Any]:
    """Send Slack's envelope over the socket and return the bot's ack."""
    envelope = world.slack.socket.send_envelope(kind, payload)
    return world.slack.socket.wait_ack(envelope)


def opened_view(world: World, mark: float, *, refreshed: bool = False) -> dict[str, Any]:
    """The modal the bot opened after `mark` (after its views.update, when `refreshed`)."""
    opened = world.slack.web.wait_for_call("views.open", timeout=10, predicate=since(mark))
    view_id = opened.response["view"]["id"]
    if refreshed:
        world.slack.web.wait_for_call(
            "views.update",
            timeout=10,
            predicate=lambda c: since(mark)(c) and c.params.get("view_id") == view_id,
        )
    return dict(world.slack.web.views[view_id])


def by_field(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The view's blocks by the field they hold (a block id may carry a suffix; see views.py)."""
    return {field_of(b["block_id"]): b for b in view["blocks"] if "block_id" in b}


def submit(world: World, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Submit `view` with {field: value}; untouched fields keep what the bot prefilled."""
    ids = {field: block["block_id"] for field, block in by_field(view).items()}
    state = {ids.get(field, field): {field: value} for field, value in values.items()}
    return interact(world, world.slack.view_submission_payload(view["id"], state))

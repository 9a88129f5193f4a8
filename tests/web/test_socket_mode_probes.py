"""Socket mode serves /healthz and /readyz on PORT too, so an orchestrator probes either mode alike;
a taken port costs only the probes, never the bot."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import World, bot_environment, interact, start_bot, wait_until
from tests.web.client import HEADERS_DEADLINE_SECONDS, StalledClients, connections_held, request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@dataclass
class SocketModeBot:
    slack: FakeSlack
    world: World
    port: int
    exit_status: int | None = None


@contextmanager
def socket_mode_bot_with_probes(tmp_path: Path, **settings: str) -> Iterator[SocketModeBot]:
    """The bot in socket mode, connected and serving its probes; stopped (SIGTERM) on leaving."""
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db") | settings
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        bot = SocketModeBot(slack, world, int(env["PORT"]))
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "/healthz, /readyz)" in world.log_text(), "the probes", 30)
            yield bot
        finally:
            world.bot.send_signal(signal.SIGTERM)
            bot.exit_status = world.bot.wait(timeout=30)


# The tests that need the bot only as it starts by default share one (on one worker, so it starts
# once), with a short header deadline for the test of clients trickling theirs. It must stop with 0
# after all of them.
SHARED_BOT = pytest.mark.xdist_group("web.test_socket_mode_probes")


@pytest.fixture(scope="module")
def probing_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocketModeBot]:
    home = tmp_path_factory.mktemp("probing-bot")
    deadline = {"HTTP_HEADERS_DEADLINE_SECONDS": str(HEADERS_DEADLINE_SECONDS)}
    with socket_mode_bot_with_probes(home, **deadline) as bot:
        yield bot
    assert bot.exit_status == 0, bot.world.log_text()


@SHARED_BOT
def test_health_probes_answer_on_port_in_socket_mode(probing_bot: SocketModeBot) -> None:
    bot = probing_bot
    healthz = request(bot.port, "GET", "/healthz")
    readyz = request(bot.port, "GET", "/readyz")
    slack_events = request(bot.port, "POST", "/slack/events", b"payload=%7B%7D")

    assert (healthz.status, readyz.status) == (200, 200)
    assert slack_events.status == 404  # Slack reaches socket mode over its socket, never here


# Another address of this machine: the whole of 127.0.0.0/8 reaches it, but a socket bound to
# 127.0.0.1 alone is not listening there, as it is not on the machine's network addresses.
ANOTHER_ADDRESS = "127.0.0.2"


def test_bind_address_keeps_the_probes_and_metrics_on_this_machine(tmp_path: Path) -> None:
    with socket_mode_bot_with_probes(tmp_path, BIND_ADDRESS="127.0.0.1") as bot:
        healthz = request(bot.port, "GET", "/healthz")
        metrics = request(bot.port, "GET", "/metrics")
        with pytest.raises(ConnectionRefusedError):
            request(bot.port, "GET", "/metrics", host=ANOTHER_ADDRESS)
        listening = bot.world.log_text()

    assert (healthz.status, metrics.status) == (200, 200)
    assert f"listening on port {bot.port} of 127.0.0.1 (" in listening
    assert bot.exit_status == 0, bot.world.log_text()


@SHARED_BOT
def test_by_default_the_probes_answer_on_every_interface(probing_bot: SocketModeBot) -> None:
    bot = probing_bot
    elsewhere = request(bot.port, "GET", "/healthz", host=ANOTHER_ADDRESS)
    listening = bot.world.log_text()

    assert elsewhere.status == 200
    assert f"listening on port {bot.port} of 0.0.0.0 (" in listening


@SHARED_BOT
def test_200_clients_trickling_their_headers_hold_up_neither_the_probes_nor_the_bot(
    probing_bot: SocketModeBot,
) -> None:
    bot = probing_bot
    with StalledClients(bot.port, 200) as stalled:
        wait_until(
            lambda: connections_held(bot.world.bot.pid, bot.port, stalled.local_ports) == 200,
            "the bot to accept all 200 stalled connections",
            30,
        )
        # The client's timeouts only keep a hang from stalling the test.
        healthz = request(bot.port, "GET", "/healthz", timeout=20)
        readyz = request(bot.port, "GET", "/readyz", timeout=20)
        interact(bot.world, bot.slack.global_shortcut_payload(GLOBAL_SHORTCUT))  # acked, or it raises
        wait_until(lambda: stalled.closed == 200, "the bot to close every stalled connection", 60)
        still_trickling = stalled.trickling

    assert (healthz.status, readyz.status) == (200, 200)
    assert still_trickling  # closed by the bot while sending, not because they stopped
    # Cut at the deadline the bot was given (HTTP_HEADERS_DEADLINE_SECONDS), not before it.
    assert min(stalled.lifetimes) >= HEADERS_DEADLINE_SECONDS
    assert "that did not send a whole request in time" in bot.world.log_text()
    assert f"headers within {HEADERS_DEADLINE_SECONDS} s of the first byte" in bot.world.log_text()
    # ... and it stops cleanly after them: the module's bot exits 0 (probing_bot).


def test_a_taken_port_in_socket_mode_is_a_warning_and_the_bot_works(tmp_path: Path) -> None:
    with socket.socket() as taken, FakeSlack() as slack, FakeProductlane() as productlane:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = bot_environment(slack, productlane, tmp_path / "outbox.db") | {"PORT": str(port)}
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "not served" in world.log_text(), "the warning", 30)

            interact(world, slack.global_shortcut_payload(GLOBAL_SHORTCUT))  # acked, or it raises
            slack.web.wait_for_call("views.open", timeout=10)
        finally:
            world.bot.send_signal(signal.SIGTERM)
            exit_status = world.bot.wait(timeout=30)

    log = world.log_text()
    assert f"WARNING bot: cannot listen on port {port}" in log
    assert "/healthz and /readyz are not served" in log
    assert "Traceback" not in log
    assert exit_status == 0, log


def test_readyz_and_the_log_say_so_when_the_outbox_file_is_deleted_under_the_bot(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        database = tmp_path / "outbox.db"
        env = bot_environment(slack, productlane, database)
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "/healthz, /readyz)" in world.log_text(), "the probes", 30)
            port = int(env["PORT"])
            before = request(port, "GET", "/readyz")
            database.unlink()
            after = request(port, "GET", "/readyz")
            # Socket mode may run without probes: the log says it too, within seconds.
            wait_until(lambda: "database file was deleted" in world.log_text(), "the log line", 10)
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)

    assert before.status == 200
    assert after.status == 503
    assert "the outbox database file was deleted or replaced" in after.body

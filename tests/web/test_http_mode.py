"""Production (HTTP) mode: without SLACK_APP_TOKEN the bot serves Slack's signed requests and the
health probes on PORT, keeps serving everyone while Slack is slow or a client is, and stops cleanly."""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT
from tests.databases import fresh_postgres
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlack
from tests.running_bot import World, bot_environment, fresh_fakes, since, start_bot, wait_until
from tests.web.client import (
    FORM,
    HEADERS_DEADLINE_SECONDS,
    SIGNING_SECRET,
    SlowUpload,
    StalledClients,
    connections_held,
    listening,
    payload_body,
    post_signed,
    request,
    signed_headers,
)

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120), pytest.mark.xdist_group("web.test_http_mode")]

MIB = 1024 * 1024


@dataclass
class HttpBot:
    world: World
    port: int

    @property
    def slack(self) -> FakeSlack:
        return self.world.slack


def start_http_bot(slack: FakeSlack, productlane: FakeProductlane, home: Path, **env: str) -> HttpBot:
    environment = bot_environment(slack, productlane, home / "outbox.db")
    del environment["SLACK_APP_TOKEN"]
    environment |= {"SLACK_SIGNING_SECRET": SIGNING_SECRET} | env
    world = start_bot(slack, productlane, environment, home, home / "bot.log")
    bot = HttpBot(world, int(environment["PORT"]))
    wait_until(lambda: "HTTP mode on port" in world.log_text() or world.bot.poll() is not None, "the bot", 60)
    assert world.bot.poll() is None, world.log_text()
    return bot


def stop(bot: HttpBot) -> int:
    if bot.world.bot.poll() is None:
        bot.world.bot.send_signal(signal.SIGTERM)
    return bot.world.bot.wait(timeout=60)


@pytest.fixture(scope="module")
def http_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpBot]:
    home = tmp_path_factory.mktemp("http-bot")
    with FakeSlack() as slack, FakeProductlane() as productlane:
        bot = start_http_bot(
            slack, productlane, home, HTTP_HEADERS_DEADLINE_SECONDS=str(HEADERS_DEADLINE_SECONDS)
        )
        try:
            yield bot
        finally:
            assert stop(bot) == 0, bot.world.log_text()
    secrets = (slack.bot_token, productlane.api_key, SIGNING_SECRET)
    assert not [secret for secret in secrets if secret in bot.world.log_text()]


@pytest.fixture(autouse=True)
def fresh(http_bot: HttpBot) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(http_bot.world.slack, http_bot.world.productlane):
        yield


def views_opened_after(slack: FakeSlack, mark: float) -> list[Call]:
    return [call for call in slack.web.calls("views.open") if call.time >= mark]


def views_updated(slack: FakeSlack, view_ids: set[str]) -> list[Call]:
    return [call for call in slack.web.calls("views.update") if call.params.get("view_id") in view_ids]


def shortcut_body(slack: FakeSlack) -> bytes:
    return payload_body(slack.global_shortcut_payload(GLOBAL_SHORTCUT))


def test_20_simultaneous_shortcuts_are_acked_at_once_and_their_modals_opened_side_by_side(
    http_bot: HttpBot,
) -> None:
    slack = http_bot.slack
    # Slack answers no views.open until the test says so: what the bot does meanwhile shows whether
    # it acks without waiting for the modal and opens the 20 side by side, however busy the machine.
    slack.web.hold("views.open")
    payloads = [slack.message_shortcut_payload(MESSAGE_SHORTCUT) for _ in range(20)]
    bodies = [payload_body(payload) for payload in payloads]
    # This test's modals (an earlier test's may open meanwhile: the module shares one bot).
    triggers = {payload["trigger_id"] for payload in payloads}

    def views_opened() -> list[Call]:
        return [call for call in slack.web.calls("views.open") if call.params.get("trigger_id") in triggers]

    everyone_ready = threading.Barrier(20)

    def press(body: bytes) -> int:
        everyone_ready.wait()
        return post_signed(http_bot.port, body).status  # a refused or reset connection raises

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(press, bodies))
        # Every ack came back while no modal had opened yet.
        assert statuses == [200] * 20
        # All 20 asked Slack at once: with Bolt's 5 listener threads, 15 would still wait here for
        # the first five answers.
        wait_until(lambda: len(views_opened()) >= 20, "20 views.open calls at once")
    finally:
        slack.web.release("views.open")
    opened = views_opened()
    view_ids = {call.response["view"]["id"] for call in opened}
    # The lazy listener updates each modal once views.open has answered: every modal is filled in.
    wait_until(lambda: len(views_updated(slack, view_ids)) >= 20, "every modal to be filled in")
    assert len(opened) == 20
    assert len(view_ids) == 20
    assert {call.params["view_id"] for call in views_updated(slack, view_ids)} == view_ids


def test_a_client_trickling_its_body_delays_no_one_else(http_bot: HttpBot) -> None:
    slack = http_bot.slack
    slow_body = shortcut_body(slack)
    upload = SlowUpload(http_bot.port, "/slack/events", slow_body, signed_headers(slow_body))
    others_answered = threading.Event()

    half = len(slow_body) // 2
    upload.send(half // 20)

    def trickle() -> None:
        # A twentieth of the body every 0.1 s, never more than half of it, while the others are sent …
        while not others_answered.wait(0.1) and upload.remaining > len(slow_body) - half:
            upload.send(half // 20)
        others_answered.wait(timeout=30)  # … and the rest only once everyone else has an answer

    trickling = threading.Thread(target=trickle)
    trickling.start()
    try:
        answers = [post_signed(http_bot.port, shortcut_body(slack))]
        answers.append(request(http_bot.port, "GET", "/healthz"))
        still_trickling = trickling.is_alive()
    finally:
        others_answered.set()
        trickling.join()

    assert [answer.status for answer in answers] == [200, 200]
    assert still_trickling
    assert upload.finish().status == 200


def test_200_clients_trickling_their_headers_hold_up_neither_slack_nor_the_probes(http_bot: HttpBot) -> None:
    slack, port = http_bot.slack, http_bot.port
    payload = slack.global_shortcut_payload(GLOBAL_SHORTCUT)
    with StalledClients(port, 200) as stalled:
        # Accepted, not merely queued in the backlog: the bot holds all 200 at once.
        wait_until(
            lambda: connections_held(http_bot.world.bot.pid, port, stalled.local_ports) == 200,
            "the bot to accept all 200 stalled connections",
            30,
        )
        # The client's timeouts only keep a hang from stalling the test.
        answer = post_signed(port, payload_body(payload), timeout=20)
        healthz = request(port, "GET", "/healthz", timeout=20)
        readyz = request(port, "GET", "/readyz", timeout=20)
        wait_until(lambda: stalled.closed == 200, "the bot to close every stalled connection", 60)
        still_trickling = stalled.trickling

    # Cut at the deadline the bot was given (HTTP_HEADERS_DEADLINE_SECONDS), not before it.
    assert min(stalled.lifetimes) >= HEADERS_DEADLINE_SECONDS
    assert f"headers within {HEADERS_DEADLINE_SECONDS} s of the first byte" in http_bot.world.log_text()
    assert answer.status == 200
    # The shortcut was handled, not only acked: its modal opened.
    slack.web.wait_for_call(
        "views.open", 10, lambda call: call.params.get("trigger_id") == payload["trigger_id"]
    )
    assert (healthz.status, readyz.status) == (200, 200)
    assert still_trickling  # closed by the bot while sending, not because they stopped
    assert "that did not send a whole request in time" in http_bot.world.log_text()


def test_forged_and_stale_requests_are_refused(http_bot: HttpBot) -> None:
    payload = http_bot.slack.global_shortcut_payload(GLOBAL_SHORTCUT)
    body = payload_body(payload)
    mark = time.monotonic()

    def post(headers: dict[str, str]) -> int:
        return request(http_bot.port, "POST", "/slack/events", body, headers).status

    forged = post(signed_headers(body, secret="guessed"))
    stale = post(signed_headers(body, timestamp=int(time.time()) - 6 * 60))
    unsigned = post(FORM)

    assert (forged, stale, unsigned) == (401, 401, 401)
    time.sleep(0.5)  # had any got through, its modal would be opening now
    opened = [c for c in http_bot.slack.web.calls("views.open") if since(mark)(c)]
    assert payload["trigger_id"] not in [call.params.get("trigger_id") for call in opened]
    log = http_bot.world.log_text()
    assert "refused a request to /slack/events" in log
    assert payload["trigger_id"] not in log  # the request's body is never logged


def test_an_oversized_body_is_refused_before_it_is_sent(http_bot: HttpBot) -> None:
    body = b"payload=" + b"x" * MIB  # over the 1 MiB cap; only its length goes out
    upload = SlowUpload(http_bot.port, "/slack/events", body, signed_headers(body))

    assert upload.answer().status == 413
    assert post_signed(http_bot.port, shortcut_body(http_bot.slack)).status == 200


def test_health_probes(http_bot: HttpBot) -> None:
    healthz = request(http_bot.port, "GET", "/healthz")
    readyz = request(http_bot.port, "GET", "/readyz")

    assert (healthz.status, healthz.body) == (200, "ok\n")
    assert (readyz.status, readyz.body) == (200, "ready\n")
    assert request(http_bot.port, "GET", "/slack/events").status == 405
    assert request(http_bot.port, "GET", "/").status == 404


def test_sigterm_lets_the_request_under_way_finish_then_exits_0(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        bot = start_http_bot(slack, productlane, tmp_path)
        slack.web.delay("views.open", 1.0)
        body = payload_body(slack.message_shortcut_payload(MESSAGE_SHORTCUT))
        upload = SlowUpload(bot.port, "/slack/events", body, signed_headers(body))
        upload.send(len(body) // 2)
        time.sleep(0.2)  # the server has the first half

        bot.world.bot.send_signal(signal.SIGTERM)
        wait_until(lambda: not listening(bot.port), "the bot to stop accepting connections")
        answer = upload.finish()
        exit_status = bot.world.bot.wait(timeout=60)

        log = bot.world.log_text()
        assert answer.status == 200, log
        assert exit_status == 0, log
        assert log.rstrip().endswith("stopped")
        # The ack's lazy listener ran to its end (views.open took 1 s, then views.update) before exit.
        opened = slack.web.wait_for_call("views.open", timeout=1)
        view_id = opened.response["view"]["id"]
        assert [c for c in slack.web.calls("views.update") if c.params.get("view_id") == view_id]


def test_a_taken_port_stops_http_mode_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken, FakeSlack() as slack, FakeProductlane() as productlane:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        del env["SLACK_APP_TOKEN"]
        env |= {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": str(port)}
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        exit_status = world.bot.wait(timeout=60)

    log = world.log_text()
    assert exit_status == 1, log
    assert f"cannot listen on port {port}" in log
    assert "Traceback" not in log
    assert "connected to Slack" not in log


class TcpProxy:
    """A cable to the database that the test can cut: forwards loopback connections to `target`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._cut.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self._cut.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except OSError:
            return

    def cut(self) -> None:
        self._cut.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone keeps listening
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_readyz_says_why_when_the_database_is_gone(tmp_path: Path) -> None:
    from sqlalchemy import make_url

    url = make_url(fresh_postgres())
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    with FakeSlack() as slack, FakeProductlane() as productlane:
        bot = start_http_bot(slack, productlane, tmp_path, DATABASE_URL=through_proxy)
        try:
            assert request(bot.port, "GET", "/readyz").status == 200

            proxy.cut()
            readyz = request(bot.port, "GET", "/readyz")
            healthz = request(bot.port, "GET", "/healthz")
        finally:
            exit_status = stop(bot)

    assert readyz.status == 503
    assert "the outbox database is unreachable" in readyz.body
    assert url.password is None or url.password not in readyz.body + bot.world.log_text()
    assert healthz.status == 200  # the process is up; only readiness depends on the database
    assert exit_status == 0, bot.world.log_text()

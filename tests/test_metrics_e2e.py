"""End to end, `/metrics`: the real `productlane-slack` process serves Prometheus' text format on PORT
in socket mode (behind METRICS_TOKEN) and in HTTP mode (open, without one), counting what happens —
a submission delivered, one refused, Slack refusing a call — with labels that never carry what
people wrote, who they are, where, or a secret.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import (
    World,
    bot_environment,
    count_rows,
    fresh_fakes,
    interact,
    opened_view,
    start_bot,
    submit,
    wait_until,
)
from tests.web.client import SIGNING_SECRET, request

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120), pytest.mark.xdist_group("test_metrics_e2e")]

TOKEN = "metrics-token-9f8e7d6c5b4a"
SECRET_TITLE = "Acme's confidential roadmap complaint"


def scrape(port: int, token: str | None = TOKEN, accept: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    answer = request(port, "GET", "/metrics", headers=headers)
    return answer.status, answer.body


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the scrape: (name, sorted labels) → value."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(body: str, name: str, **labels: str) -> float:
    return samples(body).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, int]]:
    home = tmp_path_factory.mktemp("metrics")
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, home / "outbox.db") | {"METRICS_TOKEN": TOKEN}
        world = start_bot(slack, productlane, env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "/metrics" in world.log_text(), "the metrics route", 30)
            yield world, int(env["PORT"])
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
    assert world.bot.returncode == 0, world.log_text()
    assert TOKEN not in world.log_text()


@pytest.fixture(autouse=True)
def fresh(world: tuple[World, int]) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world[0].slack, world[0].productlane):
        yield


def send(world: World, ts: str, title: str) -> None:
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT)
    payload["message"]["ts"] = ts
    interact(world, payload)
    submit(world, opened_view(world, mark, refreshed=True), {"title": title})


def test_metrics_count_a_delivery_and_a_refusal_and_carry_no_user_content(world: tuple[World, int]) -> None:
    bot, port = world
    status, before = scrape(port)
    assert status == 200
    assert value(before, "productlane_slack_outbox_items", state="pending") == 0
    assert value(before, "productlane_slack_deliveries_total", outcome="delivered") == 0
    assert value(before, "productlane_slack_delivery_paused") == 0
    assert value(before, "productlane_slack_outbox_readable") == 1
    assert "process_resident_memory_bytes" in before

    send(bot, "1764400001.000100", SECRET_TITLE)
    # The outbox gauges are read from the database at most every 5 s (bot/delivery/health.py): the
    # first item is seen delivered in the database itself, and the gauges are waited for once, at the
    # end, which waits out that cache once rather than twice.
    database = bot.log.parent / "outbox.db"
    wait_until(
        lambda: count_rows(database, "SELECT count(*) FROM outbox_items WHERE status = 'delivered'") == 1,
        "the item delivered",
    )
    bot.productlane.fail_next(400, method="POST", path="/threads")
    bot.slack.web.respond("chat.postMessage", {"ok": False, "error": "channel_not_found"}, times=1)
    send(bot, "1764400002.000100", SECRET_TITLE + " (refused)")

    def both_counted() -> bool:
        body = scrape(port)[1]
        states = ("delivered", "failed")
        return [value(body, "productlane_slack_outbox_items", state=state) for state in states] == [1, 1]

    wait_until(both_counted, "the delivered and the refused item counted")
    after = scrape(port)[1]

    assert value(after, "productlane_slack_deliveries_total", outcome="delivered") == 1
    assert value(after, "productlane_slack_deliveries_total", outcome="refused") == 1
    assert value(after, "productlane_slack_delivery_seconds_count", outcome="delivered") == 1
    assert value(after, "productlane_slack_delivery_seconds_bucket", outcome="delivered", le="+Inf") == 1
    assert value(after, "productlane_slack_productlane_responses_total", method="POST", status="201") >= 1
    assert value(after, "productlane_slack_productlane_responses_total", method="POST", status="400") == 1
    assert (
        value(
            after,
            "productlane_slack_slack_api_errors_total",
            method="chat.postMessage",
            error="channel_not_found",
        )
        == 1
    )
    assert value(after, "productlane_slack_outbox_oldest_waiting_seconds") == 0

    thread_id = bot.productlane.threads[-1]["id"]
    for private in (
        SECRET_TITLE,
        "confidential",
        "Export to CSV",  # the customer's message
        "jane@customer.example",
        "U0CSM0002",  # who sent it
        "U0CUST",
        "C0FEEDBACK",  # where
        "1764400001",
        thread_id,
        TOKEN,
        bot.slack.bot_token,
        bot.productlane.api_key,
    ):
        assert private not in after, private


def test_without_the_token_metrics_are_refused(world: tuple[World, int]) -> None:
    _, port = world
    for token in (None, "wrong-token"):
        answer = request(
            port, "GET", "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {}
        )
        assert answer.status == 401
        assert "productlane_slack" not in answer.body
    assert scrape(port, accept="application/openmetrics-text; version=1.0.0")[1].rstrip().endswith("# EOF")


def test_http_mode_serves_metrics_too_and_without_a_token_they_are_open(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        del env["SLACK_APP_TOKEN"]
        env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            wait_until(lambda: "HTTP mode on port" in world.log_text(), "the bot", 60)
            status, body = scrape(int(env["PORT"]), token=None)
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
    assert status == 200
    assert value(body, "productlane_slack_outbox_items", state="delivered") == 0

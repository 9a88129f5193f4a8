"""Tags are set once, whatever happens between the create and the PATCH: `kill -9` the
bot right after Productlane created the thread, or while its PATCH is under way, start it again,
and the thread ends with its tags, set by one PATCH."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bot.slack.ids import GLOBAL_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.pace import TEST_LEASE_SECONDS
from tests.running_bot import (
    World,
    bot_environment,
    interact,
    opened_view,
    outbox_settled,
    start_bot,
    wait_until,
)
from tests.triage.workspace import SCOPES, Seeded, option, seed, submit, triage_environment, wait_for_catalog

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def start(slack: FakeSlack, productlane: FakeProductlane, home: Path, log: str) -> World:
    env = triage_environment(bot_environment(slack, productlane, home / "outbox.db"))
    env["DELIVERY_LEASE_SECONDS"] = str(TEST_LEASE_SECONDS)
    world = start_bot(slack, productlane, env, home, home / log)
    wait_until(lambda: "connected to Slack" in world.log_text(), "the bot to connect", timeout=30)
    return world


def send_tagged(world: World, ids: Seeded, text: str) -> None:
    wait_for_catalog(world)
    mark = time.monotonic()
    interact(world, world.slack.global_shortcut_payload(GLOBAL_SHORTCUT))
    view = opened_view(world, mark)
    tags = [option("export", ids["export_tag"]), option("churn risk", ids["churn_tag"])]
    ack = submit(
        world,
        view,
        {"feedback": text, "contact_email": "jane@customer.example", "tags": {"selected_options": tags}},
    )
    assert not ack.get("payload"), ack


def tag_patches(productlane: FakeProductlane, thread_id: str) -> list[object]:
    """The tag PATCHes Productlane handled (not one dropped unanswered)."""
    return [
        r.json
        for r in productlane.requests_to("PATCH", f"/threads/{thread_id}")
        if isinstance(r.json, dict) and "tag_ids" in r.json and r.status is not None
    ]


def kill(world: World) -> None:
    world.bot.send_signal(signal.SIGKILL)
    world.bot.wait(timeout=10)


def finish(world: World) -> None:
    world.bot.send_signal(signal.SIGTERM)
    assert world.bot.wait(timeout=30) == 0, world.log_text()


def test_a_kill_between_the_create_and_the_patch_still_sets_the_tags_once(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        ids = seed(productlane)
        # The PATCH gets no answer until the bot is dead, and then never reaches Productlane.
        productlane.hold(method="PATCH")
        first = start(slack, productlane, tmp_path, "first.log")
        try:
            send_tagged(first, ids, "Exports stall at 99%")
            wait_until(lambda: productlane.created_count == 1, "the thread to be created")
            wait_until(
                lambda: [r for r in productlane.requests if r.method == "PATCH"], "the PATCH to go out"
            )
        finally:
            kill(first)
            productlane.release(drop=True)
        thread_id = productlane.threads[0]["id"]
        assert tag_patches(productlane, thread_id) == [], "the kill came too late to prove anything"

        second = start(slack, productlane, tmp_path, "second.log")
        try:
            wait_until(lambda: productlane.threads[0]["tags"], "the tags", timeout=30)
            wait_until(
                lambda: slack.web.calls("chat.postEphemeral") or slack.web.calls("conversations.open"),
                "the confirmation",
            )
            outbox_settled(tmp_path / "outbox.db")  # nothing left that could send anything twice
        finally:
            finish(second)
        assert productlane.created_count == 1
        assert tag_patches(productlane, thread_id) == [{"tag_ids": [ids["export_tag"], ids["churn_tag"]]}]
        assert [tag["name"] for tag in productlane.threads[0]["tags"]] == ["export", "churn risk"]


def test_a_kill_while_the_patch_is_under_way_does_not_send_it_again(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        ids = seed(productlane)
        # Productlane takes its time over the PATCH: it is applied only once the kill has landed.
        productlane.hold(method="PATCH")
        first = start(slack, productlane, tmp_path, "first.log")
        try:
            send_tagged(first, ids, "Bulk export please")
            # Recorded as it arrives (the fake counts patch_count only once it is handled).
            wait_until(
                lambda: [r for r in productlane.requests if r.method == "PATCH"], "the PATCH to go out"
            )
        finally:
            kill(first)
            productlane.release()
        thread_id = productlane.threads[0]["id"]
        wait_until(lambda: productlane.threads[0]["tags"], "the PATCH to be applied after all")

        second = start(slack, productlane, tmp_path, "second.log")
        try:
            wait_until(
                lambda: "its tags were set by an earlier attempt" in second.log_text(),
                "the tags found set",
                timeout=30,
            )
            outbox_settled(tmp_path / "outbox.db")  # nothing left that could send anything twice
        finally:
            finish(second)
        assert productlane.created_count == 1
        assert len(tag_patches(productlane, thread_id)) == 1

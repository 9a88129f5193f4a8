"""End to end, the App Home: the real `productlane-slack` process publishes each person's Home when they
open it — their own submissions only, each in its state, Edit and resend working from it, delivery
health for admins, one line for people of another organization — and publishes it again when one of
their submissions changes (sent, refused, its status in Productlane) while they may be looking.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.ids import (
    EDIT_AND_RESEND_ACTION,
    FEEDBACK_MODAL,
    GLOBAL_SHORTCUT,
    HOME_NEW_FEEDBACK_ACTION,
    MESSAGE_SHORTCUT,
)
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import TEAM_ID, Call, FakeSlack
from tests.fakes.slack_home import app_home_opened_payload
from tests.running_bot import (
    ENTRY_POINT,
    World,
    bot_environment,
    count_rows,
    fresh_fakes,
    interact,
    opened_view,
    run_command,
    since,
    start_bot,
    submit,
    wait_until,
)

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120), pytest.mark.xdist_group("test_home_e2e")]

SECRET = "whsec_home_0123456789abcdef"
SUBMITTER = "U0CSM0002"  # Dana: the person the payload builders act as
COLLEAGUE = "U0CSM0001"  # Sam
ADMIN = "U0ADMIN001"
OUTSIDER = "U0EXT00001"


def person(user_id: str, name: str, *, team_id: str = TEAM_ID, is_admin: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "real_name": name.title(),
        "is_bot": False,
        "is_admin": is_admin,
        "profile": {"real_name": name.title(), "display_name": name, "email": f"{name}@example.com"},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("home")
    with FakeSlack() as slack, FakeProductlane() as productlane:
        slack.web.add_user(person(ADMIN, "ops", is_admin=True))
        slack.web.add_user(person(OUTSIDER, "customer", team_id="T0CUSTOMER"))
        env = bot_environment(slack, productlane, home / "outbox.db") | {
            "PRODUCTLANE_WEBHOOK_SECRET": SECRET,
            # The setting's lowest: a Home opened just before a change is published again a second
            # after it opened, not five.
            "HOME_REPUBLISH_SECONDS": "1",
        }
        world = start_bot(slack, productlane, env, home, home / "bot.log")
        try:
            slack.socket.wait_connected(timeout=30)
            wait_until(lambda: "listening on port" in world.log_text(), "the webhook route", 30)
            productlane.add_webhook(f"http://127.0.0.1:{env['PORT']}/productlane/webhooks", SECRET)
            yield world
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=30)
    assert world.bot.returncode == 0, world.log_text()


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world.slack, world.productlane):
        yield


def publishes(world: World, user_id: str, mark: float) -> list[Call]:
    return [
        call
        for call in world.slack.web.calls("views.publish")
        if since(mark)(call) and call.params.get("user_id") == user_id and call.response.get("ok")
    ]


def open_home(world: World, user_id: str, *, tab: str = "home") -> dict[str, Any]:
    """The person opens the App Home: the Home the bot published for them."""
    mark = time.monotonic()
    interact(world, app_home_opened_payload(world.slack, user_id, tab=tab), kind="events_api")
    call = wait_until(lambda: publishes(world, user_id, mark), f"{user_id}'s Home published", 15)[0]
    view: dict[str, Any] = call.params["view"]
    return view


def text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def item_block(view: dict[str, Any], title: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b["type"] == "section" and title in json.dumps(b))


def shortcut_submission(world: World, ts: str, title: str, *, user: str = SUBMITTER) -> None:
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, user=user)
    payload["message"]["ts"] = ts
    interact(world, payload)
    view = opened_view(world, mark, refreshed=True)
    submit(world, view, {"title": title})


def test_a_submitter_sees_their_own_submissions_in_each_state_and_resends_a_refused_one(
    world: World,
) -> None:
    productlane = world.productlane
    # The module's tests share the bot and its log: what is counted is what this test adds.
    refusals = world.log_text().count("refused by Productlane")
    shortcut_submission(world, "1764300001.000100", "Sent one: export times out")
    wait_until(
        lambda: any(t["title"] == "Sent one: export times out" for t in productlane.threads),
        "the first thread",
    )
    productlane.fail_next(400, method="POST", path="/threads")
    shortcut_submission(world, "1764300002.000100", "Refused one: dark mode")
    wait_until(lambda: world.log_text().count("refused by Productlane") > refusals, "the refusal")
    # A colleague's feedback is theirs alone.
    mark = time.monotonic()
    interact(world, world.slack.global_shortcut_payload(GLOBAL_SHORTCUT, user=COLLEAGUE))
    submit(world, opened_view(world, mark), {"feedback": "Sam's own idea", "contact_email": "s@x.example"})
    wait_until(lambda: any(t["title"] == "Sam's own idea" for t in productlane.threads), "Sam's thread")
    # Productlane stops answering: the next submission waits.
    productlane.fail_next(503, n=1000, method="POST", path="/threads")
    try:
        shortcut_submission(world, "1764300003.000100", "Waiting one: SSO")
        # This submission's first send was answered 503: it waits for its retry (seconds away).
        database = world.log.parent / "outbox.db"
        retry_due = (
            "SELECT count(*) FROM outbox_items WHERE status = 'pending' AND attempts > 0"
            " AND last_error IS NOT NULL AND payload LIKE '%Waiting one: SSO%'"
        )
        wait_until(lambda: count_rows(database, retry_due), "a retry")

        home = open_home(world, SUBMITTER)
    finally:
        productlane.reset_faults()

    shown = text(home)
    assert "Sam's own idea" not in shown
    sent = item_block(home, "Sent one: export times out")
    thread_id = next(t["id"] for t in productlane.threads if t["title"] == "Sent one: export times out")
    assert f"https://productlane.test/feedback/{thread_id}" in sent["text"]["text"]
    assert "Status in Productlane: Open" in sent["text"]["text"]
    refused = item_block(home, "Refused one: dark mode")
    assert "Refused by Productlane" in refused["text"]["text"]
    assert refused["accessory"]["action_id"] == EDIT_AND_RESEND_ACTION
    waiting = item_block(home, "Waiting one: SSO")
    assert "Productlane isn't answering" in waiting["text"]["text"]
    assert shown.index("Waiting one") < shown.index("Refused one") < shown.index("Sent one")
    assert "Delivery health" not in shown, "only admins see it"
    assert "<#C0FEEDBACK>" in shown

    # Edit and resend, pressed on the Home (no channel, no message: a view).
    mark = time.monotonic()
    stored = world.slack.web.homes[SUBMITTER]
    interact(world, world.slack.block_actions_payload(EDIT_AND_RESEND_ACTION, view=stored["id"]))
    reopened = opened_view(world, mark)
    assert reopened["callback_id"] == FEEDBACK_MODAL
    assert "Refused one: dark mode" in json.dumps(reopened["blocks"])
    submit(world, reopened, {"title": "Refused one, fixed"})

    # Sent now: the Home follows by itself, the refused one replaced by its edited copy.
    def republished() -> dict[str, Any] | None:
        for call in reversed(publishes(world, SUBMITTER, mark)):
            if "Refused one, fixed" in json.dumps(call.params["view"]):
                return dict(call.params["view"])
        return None

    after = wait_until(republished, "the Home published again", 20)
    assert ":white_check_mark: *Sent*" in json.dumps(item_block(after, "Refused one, fixed"))
    assert "Refused one: dark mode" not in text(after)


def test_a_status_change_in_productlane_republishes_the_home_of_someone_looking(world: World) -> None:
    shortcut_submission(world, "1764300101.000100", "Status follows: CSV encoding")
    titled = "Status follows: CSV encoding"
    thread = wait_until(
        lambda: next((t for t in world.productlane.threads if t["title"] == titled), None), "the thread"
    )
    wait_until(lambda: "Sent" in json.dumps(open_home(world, SUBMITTER)), "the Home showing it sent")
    mark = time.monotonic()
    world.productlane.set_thread_status(thread["id"], "done")

    def shows_done() -> bool:
        return any(
            "Status in Productlane: Done" in json.dumps(item_block(call.params["view"], "CSV encoding"))
            for call in publishes(world, SUBMITTER, mark)
        )

    wait_until(shows_done, "the Home published with the new status", 20)


def test_an_admin_sees_delivery_health_and_the_new_feedback_button_opens_the_modal(world: World) -> None:
    home = open_home(world, ADMIN)
    shown = text(home)
    assert "Delivery health" in shown
    assert "*Waiting*" in shown
    assert "*Updates from Productlane*\\nwebhooks" in shown
    assert "Channels with settings" in shown
    assert "Nothing sent yet" in shown

    mark = time.monotonic()
    home_id = world.slack.web.homes[ADMIN]["id"]
    interact(world, world.slack.block_actions_payload(HOME_NEW_FEEDBACK_ACTION, view=home_id, user=ADMIN))
    modal = opened_view(world, mark)
    assert modal["callback_id"] == FEEDBACK_MODAL


def test_an_admin_sees_the_channels_with_settings_once_they_are_set(world: World) -> None:
    settings_file = world.log.parent / "channels.json"
    settings_file.write_text(
        json.dumps({"channels": [{"channel": "C0SETTINGS1", "capture": "shortcut", "pain_level": "HIGH"}]})
    )
    env = bot_environment(world.slack, world.productlane, world.log.parent / "outbox.db")
    done = run_command([str(ENTRY_POINT), "channels", "import", str(settings_file)], env, world.log.parent)
    assert done.returncode == 0, done.stdout + done.stderr

    # The running bot learns of the change within seconds (its settings cache), and says so.
    def listed() -> dict[str, Any] | None:
        home = open_home(world, ADMIN)
        return home if "<#C0SETTINGS1> · capture: shortcut · pain level: High" in text(home) else None

    wait_until(listed, "the channel in the admin's Home", 15)
    assert "C0SETTINGS1" not in text(open_home(world, SUBMITTER))  # not for everyone


def test_someone_from_another_organization_is_told_the_home_is_the_workspaces_own(world: World) -> None:
    home = open_home(world, OUTSIDER)
    assert len(home["blocks"]) == 1
    assert "This Home is for the people of *Acme*" in text(home)


def test_the_messages_tab_publishes_nothing(world: World) -> None:
    mark = time.monotonic()
    interact(world, app_home_opened_payload(world.slack, SUBMITTER, tab="messages"), kind="events_api")
    # Its event was handed to the bot's listeners (acked) before the Home tab's, opened next, whose
    # publish takes a database read and a call to Slack: one for the Messages tab would come first.
    # The one publish is the Home's own.
    open_home(world, SUBMITTER)
    assert len(publishes(world, SUBMITTER, mark)) == 1

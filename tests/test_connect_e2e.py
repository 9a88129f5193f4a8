"""End to end, Slack Connect fails closed: the real `productlane-slack` process, with a catalog,
against loopback Slack and Productlane.

- A confirmation names the company, the tags and the contact only in a channel Slack said, just
  before the post, is not shared: not in one shared since the modal opened, nor in one Slack would
  not describe (conversations.info rate limited).
- Shortcuts, buttons, the modal's submission and the selects' options are for people of the
  workspace: someone of another organization, or someone Slack would not describe, is told so and
  sees no data; the options are empty.
- Edit and resend of feedback from a private channel only for someone still in that channel.
- Installed org-wide, someone of a sibling workspace the bot has not looked up (or whose cached
  answer expired) keeps the modal and what they typed: told to press Submit again while Slack is
  asked; a known outsider is still refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import (
    COMPANY_SELECT,
    EDIT_AND_RESEND_ACTION,
    EDIT_DETAILS_ACTION,
    FEEDBACK_MODAL,
    MESSAGE_SHORTCUT,
)
from bot.ui.access import CHECKING_WHO, LEFT_CHANNEL
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlack, make_channel
from tests.running_bot import (
    World,
    bot_environment,
    by_field,
    connected_bot,
    fresh_fakes,
    interact,
    opened_view,
    since,
    wait_until,
)
from tests.triage.workspace import SCOPES, seed, submit, triage_environment, wait_for_catalog

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180), pytest.mark.xdist_group("test_connect_e2e")]

OUTSIDER = {"id": "U0BIGCO001", "username": "kim", "name": "kim", "team_id": "T0BIGCO01"}
STRANGER = {"id": "U0NEWBIE01", "username": "new", "name": "new"}  # no team in the payload
RATELIMITED = {"ok": False, "error": "ratelimited"}
INTERNAL_DETAILS = ("Company:", "Customer Co", "jane@customer.example")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("bot")
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        seed(productlane)
        env = triage_environment(bot_environment(slack, productlane, home / "outbox.db"))
        with connected_bot(slack, productlane, env, home) as world:
            wait_for_catalog(world, ("companies",))
            yield world


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    with fresh_fakes(world.slack, world.productlane):
        yield


def open_on_message(world: World, channel: str, ts: str, text: str, user: Any = None) -> dict[str, Any]:
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, channel=channel, user=user)
    payload["message"].update({"ts": ts, "text": text, "blocks": []})
    payload["message_ts"] = ts
    interact(world, payload)
    return opened_view(world, mark, refreshed=True)


def reply_in(world: World, mark: float, channel: str, thread_ts: str) -> Call:
    return world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=20,
        predicate=lambda c: (
            since(mark)(c) and c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        ),
    )


def refusal_modal(world: World, mark: float) -> str:
    call = world.slack.web.wait_for_call("views.open", timeout=15, predicate=since(mark))
    view = call.params["view"]
    assert view.get("callback_id") != FEEDBACK_MODAL
    assert view["title"]["text"] == "Not available"
    return str(view["blocks"])


def feedback_modals_opened(world: World, mark: float) -> list[Call]:
    return [
        call
        for call in world.slack.web.calls("views.open")
        if since(mark)(call) and call.params["view"].get("callback_id") == FEEDBACK_MODAL
    ]


# --- confirmations ask whether the channel is shared when they are posted ------------------------


def test_an_internal_channel_gets_the_whole_confirmation(world: World) -> None:
    world.slack.web.add_channel("C0INSIDE01", "support-internal")
    view = open_on_message(world, "C0INSIDE01", "1764500100.000100", "Invoices are in the wrong currency")
    mark = time.monotonic()
    submit(world, view, {})
    blocks = str(reply_in(world, mark, "C0INSIDE01", "1764500100.000100").params["blocks"])
    for detail in INTERNAL_DETAILS:
        assert detail in blocks


def test_a_confirmation_names_nothing_internal_when_slack_wont_say_whether_the_channel_is_shared(
    world: World,
) -> None:
    world.slack.web.add_channel("C0RATELIM1", "support-busy")
    view = open_on_message(world, "C0RATELIM1", "1764500200.000100", "Exports time out at noon")
    # From here Slack answers no conversations.info: the channel cannot be told internal.
    world.slack.web.respond("conversations.info", RATELIMITED, status=429, headers={"Retry-After": "1"})
    mark = time.monotonic()
    submit(world, view, {})
    reply = reply_in(world, mark, "C0RATELIM1", "1764500200.000100")
    blocks = str(reply.params["blocks"])
    assert "Exports time out at noon" in blocks
    for detail in INTERNAL_DETAILS:
        assert detail not in blocks
    assert world.slack.web.calls("conversations.info")[-1].response.get("error") == "ratelimited"


def test_a_channel_shared_after_the_modal_opened_gets_a_confirmation_without_internal_details(
    world: World,
) -> None:
    world.slack.web.add_channel("C0TURNED01", "acme-partner")
    view = open_on_message(world, "C0TURNED01", "1764500300.000100", "Webhooks arrive twice")
    # The channel is shared with the customer's organization while the person fills in the form.
    world.slack.web.channels["C0TURNED01"] = make_channel("C0TURNED01", "acme-partner", is_ext_shared=True)
    mark = time.monotonic()
    submit(world, view, {})
    blocks = str(reply_in(world, mark, "C0TURNED01", "1764500300.000100").params["blocks"])
    assert "Webhooks arrive twice" in blocks
    for detail in INTERNAL_DETAILS:
        assert detail not in blocks


# --- only the team uses the bot's interactive parts ----------------------------------------------


def test_an_outsider_and_someone_slack_wont_describe_get_no_options(world: World) -> None:
    def options(user: Any) -> dict[str, Any]:
        ack = interact(world, world.slack.block_suggestion_payload(COMPANY_SELECT, "customer", user=user))
        payload = ack.get("payload")
        assert isinstance(payload, dict), ack
        return payload

    assert "Customer Co" in [o["text"]["text"] for o in options("U0CSM0002").get("options", [])]
    assert options(OUTSIDER) == {"options": []}
    world.slack.web.respond("users.info", RATELIMITED, status=429, headers={"Retry-After": "1"})
    assert options(STRANGER) == {"options": []}


def test_the_message_shortcut_opens_no_form_for_an_outsider_or_someone_slack_wont_describe(
    world: World,
) -> None:
    mark = time.monotonic()
    interact(world, world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, user=OUTSIDER))
    assert "Only people of this workspace" in refusal_modal(world, mark)

    world.slack.web.respond("users.info", RATELIMITED, status=429, headers={"Retry-After": "1"})
    again = time.monotonic()
    interact(world, world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, user=STRANGER))
    assert "Only people of this workspace" in refusal_modal(world, again)
    assert feedback_modals_opened(world, mark) == []


def test_an_outsider_cannot_submit_the_feedback_modal(world: World) -> None:
    view = open_on_message(world, "C0FEEDBACK", "1764500400.000100", "Dark mode for the portal")
    before = len(world.productlane.requests_to("POST", "/threads"))
    ack = interact(world, world.slack.view_submission_payload(view["id"], {}, user=OUTSIDER))
    assert ack["payload"]["response_action"] == "update"
    assert "Only people of this workspace" in str(ack["payload"]["view"])
    # Nothing was filed: a feedback of the team's own goes through, and it is the only one.
    mark = time.monotonic()
    submit(world, view, {})
    reply_in(world, mark, "C0FEEDBACK", "1764500400.000100")
    created = world.productlane.requests_to("POST", "/threads")[before:]
    assert len([r for r in created if "Dark mode for the portal" in r.json["text"]]) == 1


def test_edit_details_and_edit_and_resend_refuse_an_outsider(world: World) -> None:
    message = {"ts": "1764500500.000200", "text": "x", "blocks": []}
    mark = time.monotonic()
    interact(
        world,
        world.slack.block_actions_payload(
            EDIT_DETAILS_ACTION, value="reaction:C0FEEDBACK/1", message=message, user=OUTSIDER
        ),
    )
    told = world.slack.web.wait_for_call("chat.postEphemeral", timeout=15, predicate=since(mark))
    assert told.params["user"] == OUTSIDER["id"]
    assert "Only people in this workspace" in str(told.params["text"])

    interact(
        world,
        world.slack.block_actions_payload(EDIT_AND_RESEND_ACTION, value="1", message=message, user=OUTSIDER),
    )
    assert "Only people of this workspace" in refusal_modal(world, mark)
    assert feedback_modals_opened(world, mark) == []


# --- Edit and resend from a private channel ------------------------------------------------------


def test_edit_and_resend_from_a_private_channel_only_for_someone_still_in_it(world: World) -> None:
    slack = world.slack
    slack.web.add_channel("C0PRIVATE9", "escalations", is_private=True, members=["U0CSM0002", "U0CUST0003"])
    world.productlane.fail_next(400, method="POST", path="/threads")
    view = open_on_message(world, "C0PRIVATE9", "1764500600.000100", "Audit log misses logins")
    mark = time.monotonic()
    submit(world, view, {})
    refusal = slack.web.wait_for_call(
        "chat.postMessage",
        timeout=20,
        predicate=lambda c: since(mark)(c) and EDIT_AND_RESEND_ACTION in str(c.params.get("blocks")),
    )
    message = {
        "ts": refusal.response["ts"],
        "text": refusal.params["text"],
        "blocks": refusal.params["blocks"],
    }
    press = slack.block_actions_payload(
        EDIT_AND_RESEND_ACTION, message=message, channel=refusal.params["channel"]
    )

    slack.web.channels["C0PRIVATE9"]["members"] = ["U0CUST0003"]  # Dana left the channel
    left = time.monotonic()
    interact(world, press)
    assert LEFT_CHANNEL.split(",")[0] in refusal_modal(world, left)

    slack.web.respond("conversations.members", RATELIMITED, status=429, headers={"Retry-After": "1"})
    unknown = time.monotonic()
    interact(
        world,
        slack.block_actions_payload(
            EDIT_AND_RESEND_ACTION, message=message, channel=refusal.params["channel"]
        ),
    )
    assert "didn't say just now whether you are still in the channel" in refusal_modal(world, unknown)
    assert feedback_modals_opened(world, left) == []

    slack.web.reset_responses("conversations.members")
    slack.web.channels["C0PRIVATE9"]["members"] = ["U0CSM0002", "U0CUST0003"]  # back in it
    back = time.monotonic()
    interact(
        world,
        slack.block_actions_payload(
            EDIT_AND_RESEND_ACTION, message=message, channel=refusal.params["channel"]
        ),
    )
    wait_until(lambda: feedback_modals_opened(world, back), "the feedback modal, reopened")


# --- installed org-wide: a sibling workspace's person not known yet ------------------------------

ORG = "E0ACMEORG1"
SIBLING = {"id": "U0SIBLING1", "username": "lee", "name": "lee", "team_id": "T0SIBLING1"}
GUEST = {"id": "U0GUEST001", "username": "ana", "name": "ana", "team_id": "T0BIGCO01"}


def person(user: dict[str, str], enterprise: str) -> dict[str, Any]:
    """As users.info describes them: their workspace and their Enterprise Grid organization."""
    return {
        "id": user["id"],
        "team_id": user["team_id"],
        "name": user["name"],
        "deleted": False,
        "is_bot": False,
        "profile": {"real_name": user["name"].title(), "display_name": user["name"]},
        "enterprise_user": {"enterprise_id": enterprise, "teams": [user["team_id"]]},
    }


@pytest.fixture
def org_wide(tmp_path: Path) -> Iterator[World]:
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        seed(productlane)
        slack.web.respond(
            "auth.test",
            {
                "ok": True,
                "url": "https://acme.slack.com/",
                "team": "Acme",
                "user": "productlane",
                "team_id": "T0ACME0001",
                "enterprise_id": ORG,
                "user_id": "U0BOT00001",
                "bot_id": "B0BOT00001",
                "is_enterprise_install": True,
            },
        )
        slack.web.add_user(person(SIBLING, ORG))
        slack.web.add_user(person(GUEST, "E0BIGCO001"))
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        with connected_bot(slack, productlane, env, tmp_path) as world:
            yield world


def threads_about(world: World, text: str) -> list[Any]:
    return [r for r in world.productlane.requests_to("POST", "/threads") if text in str(r.json)]


def test_someone_of_a_sibling_workspace_not_known_yet_keeps_the_modal_and_submits_again(
    org_wide: World,
) -> None:
    world = org_wide
    view = open_on_message(world, "C0FEEDBACK", "1764500900.000100", "Exports lose the time zone")
    ids = {field: block["block_id"] for field, block in by_field(view).items()}
    state = {ids["title"]: {"title": "Exports lose the time zone, seen by Lee"}}

    # Nobody has looked them up: not a refusal. The modal stays (errors, not update), nothing is filed.
    ack = interact(world, world.slack.view_submission_payload(view["id"], state, user=SIBLING))
    assert ack["payload"]["response_action"] == "errors", ack
    assert CHECKING_WHO in ack["payload"]["errors"].values()
    # Meanwhile Slack is asked who they are, off the ack's path.
    world.slack.web.wait_for_call(
        "users.info", timeout=15, predicate=lambda c: c.params.get("user") == SIBLING["id"]
    )
    wait_until(lambda: f"looked up who {SIBLING['id']} is" in world.log_text(), "the lookup", 30)
    assert threads_about(world, "seen by Lee") == []

    mark = time.monotonic()
    again = interact(world, world.slack.view_submission_payload(view["id"], state, user=SIBLING))
    assert not (again.get("payload") or {}).get("response_action"), again
    reply_in(world, mark, "C0FEEDBACK", "1764500900.000100")
    assert len(threads_about(world, "seen by Lee")) == 1


def test_org_wide_a_known_outsider_is_still_refused_on_submit(org_wide: World) -> None:
    world = org_wide
    view = open_on_message(world, "C0FEEDBACK", "1764501000.000100", "Reports are blank")
    first = interact(world, world.slack.view_submission_payload(view["id"], {}, user=GUEST))
    assert first["payload"]["response_action"] == "errors", first  # not known yet: asked meanwhile
    assert CHECKING_WHO in first["payload"]["errors"].values(), first
    wait_until(
        lambda: f"looked up who {GUEST['id']} is for their next request: outsider" in world.log_text(),
        "the lookup",
        30,
    )
    refused = interact(world, world.slack.view_submission_payload(view["id"], {}, user=GUEST))
    assert refused["payload"]["response_action"] == "update"
    assert "Only people of this workspace" in str(refused["payload"]["view"])
    assert threads_about(world, "Reports are blank") == []

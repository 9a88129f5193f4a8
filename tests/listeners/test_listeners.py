"""Each listener, dispatched in-process through the Bolt app the factory builds, against the loopback
Slack Web API and Productlane: what the person sees, and what Slack gets back as the ack."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.app import Bot, build_bot
from bot.commands.outbox import run_outbox_command
from bot.delivery.outbox import Status
from bot.productlane import ProductlaneClient, WriteLimiter
from bot.settings import Settings
from bot.slack.ids import (
    EDIT_AND_RESEND_ACTION,
    FEEDBACK_COMMAND,
    GLOBAL_SHORTCUT,
    MESSAGE_SHORTCUT,
)
from bot.ui.views import field_of
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.pace import PATIENCE, TEST_WRITES_PER_MINUTE

pytestmark = pytest.mark.timeout(60)


@dataclass
class Rig:
    slack: FakeSlack
    productlane: FakeProductlane
    bot: Bot

    def dispatch(self, payload: dict[str, Any]) -> BoltResponse:
        return self.bot.app.dispatch(BoltRequest(body=payload, mode="socket_mode"))

    def view(self, view_id: str) -> dict[str, Any]:
        return dict(self.slack.web.views[view_id])


def settings_for(slack: FakeSlack, productlane: FakeProductlane) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token=slack.bot_token,
        slack_app_token=slack.app_token,
        slack_api_url=slack.api_url,
        productlane_api_key=productlane.api_key,
        productlane_api_url=productlane.url,
        default_pain_level="MEDIUM",
        default_notify_email=True,
        productlane_writes_per_minute=TEST_WRITES_PER_MINUTE,
    )


def bot_for(slack: FakeSlack, productlane: FakeProductlane, database: Path) -> Bot:
    return build_bot(
        settings_for(slack, productlane),
        web_client=WebClient(token=slack.bot_token, base_url=slack.api_url),
        productlane=ProductlaneClient(
            productlane.api_key,
            productlane.url,
            write_limiter=WriteLimiter(rate_per_minute=TEST_WRITES_PER_MINUTE),
        ),
        outbox=outbox_at(f"sqlite:///{database}"),
    )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        bot = bot_for(slack, productlane, tmp_path / "outbox.db")
        yield Rig(slack, productlane, bot)
        bot.close()


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Blocks by the field they hold: a block id may carry views.FILLED_SUFFIX."""
    return {field_of(block["block_id"]): block for block in view["blocks"] if "block_id" in block}


# --- shortcuts ----------------------------------------------------------------------------------


def test_message_shortcut_acks_at_once_and_opens_the_modal_prefilled(rig: Rig) -> None:
    response = rig.dispatch(rig.slack.message_shortcut_payload(MESSAGE_SHORTCUT))
    assert response.status == 200
    opened = rig.slack.web.wait_for_call("views.open")
    updated = rig.slack.web.wait_for_call("views.update")
    view = blocks_by_id(rig.view(updated.params["view_id"]))
    assert view["contact_email"]["element"]["initial_value"] == "jane@customer.example"
    assert view["pain_level"]["element"]["initial_option"]["value"] == "MEDIUM"
    assert [o["value"] for o in view["notify"]["element"]["initial_options"]] == ["email"]
    assert updated.params["hash"] == opened.response["view"]["hash"]


def test_the_modal_opens_before_slow_lookups_answer(rig: Rig) -> None:
    # Slack answers no users.info until the modal is open: the trigger expires after 3 s, so the modal
    # must not wait for the author's details, however long they take.
    rig.slack.web.hold("users.info")
    try:
        rig.dispatch(rig.slack.message_shortcut_payload(MESSAGE_SHORTCUT))
        opened = rig.slack.web.wait_for_call("views.open", timeout=15)
        rig.slack.web.wait_for_call("users.info", timeout=15)  # the lookup is under way, unanswered
        assert not rig.slack.web.calls("views.update")
    finally:
        released = time.monotonic()
        rig.slack.web.release("users.info")
    first = blocks_by_id(opened.params["view"])
    assert "initial_value" not in first["contact_email"]["element"]
    assert "Looking up" in json.dumps(opened.params["view"])
    updated = rig.slack.web.wait_for_call("views.update", timeout=15)
    assert updated.time >= released  # filled in once the details came
    filled = blocks_by_id(updated.params["view"])
    assert filled["contact_email"]["element"]["initial_value"] == "jane@customer.example"
    # Empty at open, so it gets a new block id: Slack shows a new block's initial_value, while it
    # keeps the state of an unchanged one. Fields the person may have typed in keep their ids.
    assert filled["contact_email"]["block_id"] != "contact_email"
    assert filled["title"]["block_id"] == "title"
    assert "Looking up" not in json.dumps(updated.params["view"])


def test_a_second_shortcut_on_the_same_author_uses_the_cache(rig: Rig) -> None:
    rig.dispatch(rig.slack.message_shortcut_payload(MESSAGE_SHORTCUT))
    rig.slack.web.wait_for_call("views.update")
    rig.dispatch(rig.slack.message_shortcut_payload(MESSAGE_SHORTCUT))
    second = rig.slack.web.wait_for_call(
        "views.open", predicate=lambda call: call is not rig.slack.web.calls("views.open")[0]
    )
    prefilled = blocks_by_id(second.params["view"])
    assert prefilled["contact_email"]["element"]["initial_value"] == "jane@customer.example"
    # Until the second modal's listener has finished: whatever it looks up, it has looked up.
    assert rig.bot.listeners.drain(PATIENCE)
    author_lookups = [c for c in rig.slack.web.calls("users.info") if c.params["user"] == "U0CUST0003"]
    assert len(author_lookups) == 1


def test_global_shortcut_opens_a_modal_with_a_required_feedback_field(rig: Rig) -> None:
    rig.dispatch(rig.slack.global_shortcut_payload(GLOBAL_SHORTCUT))
    opened = rig.slack.web.wait_for_call("views.open")
    feedback = blocks_by_id(opened.params["view"])["feedback"]
    assert feedback["element"]["type"] == "rich_text_input"
    assert not feedback.get("optional")


# --- commands -----------------------------------------------------------------------------------


def test_feedback_command_prefills_links_and_decoded_text(rig: Rig) -> None:
    text = "Wants SSO &amp; SCIM, see <https://okta.com|Okta> cc <@U0CSM0001>"
    rig.dispatch(rig.slack.slash_command_payload(FEEDBACK_COMMAND, text))
    opened = rig.slack.web.wait_for_call("views.open")
    elements = blocks_by_id(opened.params["view"])["feedback"]["element"]["initial_value"]["elements"][0][
        "elements"
    ]
    assert {"type": "text", "text": "Wants SSO & SCIM, see "} in elements
    assert {"type": "link", "url": "https://okta.com", "text": "Okta"} in elements
    assert {"type": "user", "user_id": "U0CSM0001"} in elements


# --- the submission -----------------------------------------------------------------------------


def open_modal(rig: Rig) -> dict[str, Any]:
    rig.dispatch(rig.slack.message_shortcut_payload(MESSAGE_SHORTCUT))
    updated = rig.slack.web.wait_for_call("views.update")
    return rig.view(updated.params["view_id"])


def test_a_valid_submission_is_in_the_outbox_when_the_ack_returns(rig: Rig) -> None:
    rig.bot.worker.stop()  # nothing sends: the ack alone must have persisted it
    view = open_modal(rig)
    response = rig.dispatch(rig.slack.view_submission_payload(view["id"], {}))
    assert response.status == 200
    assert not response.body
    assert rig.bot.outbox.counts()[Status.PENDING] == 1
    # Slack retrying the same submission does not add a second item.
    rig.dispatch(rig.slack.view_submission_payload(view["id"], {}))
    assert rig.bot.outbox.counts()[Status.PENDING] == 1


def test_bad_fields_come_back_on_their_blocks(rig: Rig) -> None:
    view = open_modal(rig)
    payload = rig.slack.view_submission_payload(
        view["id"],
        {
            blocks_by_id(view)["contact_email"]["block_id"]: {"contact_email": "not-an-email"},
            "title": {"title": "x" * 512},
        },
    )
    response = rig.dispatch(payload)
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {blocks_by_id(view)["contact_email"]["block_id"]}
    assert sum(rig.bot.outbox.counts().values()) == 0


def test_a_submission_whose_draft_is_gone_says_so_on_the_form(rig: Rig) -> None:
    view = open_modal(rig)
    view["private_metadata"] = "unknown-draft"
    rig.slack.web.views[view["id"]] = view
    body = json.loads(rig.dispatch(rig.slack.view_submission_payload(view["id"], {})).body)
    assert "expired" in body["errors"]["title"]


# --- actions ------------------------------------------------------------------------------------


def test_edit_and_resend_for_an_unknown_submission_explains_by_dm(rig: Rig) -> None:
    message = {
        "ts": "1.0",
        "text": "x",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": EDIT_AND_RESEND_ACTION,
                        "text": {"type": "plain_text", "text": "Edit and resend"},
                        "value": "424242",
                    }
                ],
            }
        ],
    }
    rig.dispatch(
        rig.slack.block_actions_payload(EDIT_AND_RESEND_ACTION, message=message, channel="D0CSM0002")
    )
    posted = rig.slack.web.wait_for_call("chat.postMessage")
    assert "can no longer be found" in posted.params["text"]


def test_someone_else_pressing_a_submitters_edit_and_resend_reopens_nothing(rig: Rig) -> None:
    rig.bot.worker.start()
    rig.productlane.fail_next(400, method="POST", path="/threads")
    rig.dispatch(rig.slack.view_submission_payload(open_modal(rig)["id"], {}))
    refusal = rig.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=10,
        predicate=lambda c: EDIT_AND_RESEND_ACTION in str(c.params.get("blocks")),
    )
    message = {"ts": refusal.response["ts"], "text": "x", "blocks": refusal.params["blocks"]}
    rig.dispatch(
        rig.slack.block_actions_payload(
            EDIT_AND_RESEND_ACTION, message=message, channel=refusal.params["channel"], user="U0CSM0001"
        )
    )
    told = rig.slack.web.wait_for_call(
        "chat.postMessage",
        predicate=lambda c: c.time > refusal.time and c.params.get("channel") == "U0CSM0001",
    )
    assert "can no longer be found" in told.params["text"]
    assert not [c for c in rig.slack.web.calls("views.open") if c.time > refusal.time]


def test_a_modal_opened_before_a_restart_can_still_be_sent_after_it(rig: Rig, tmp_path: Path) -> None:
    view = open_modal(rig)
    rig.bot.close()  # the bot restarts while the person is still typing
    restarted = Rig(rig.slack, rig.productlane, bot_for(rig.slack, rig.productlane, tmp_path / "outbox.db"))
    restarted.bot.worker.start()
    response = restarted.dispatch(rig.slack.view_submission_payload(view["id"], {}))
    assert not response.body
    restarted.productlane.wait_for(lambda fake: fake.created_count == 1, timeout=10)
    assert "Export to CSV times out" in restarted.productlane.threads[0]["text"]
    restarted.bot.close()


def test_edit_and_resend_supersedes_the_refused_submission(rig: Rig, tmp_path: Path) -> None:
    rig.bot.worker.start()
    rig.productlane.fail_next(400, method="POST", path="/threads")
    view = open_modal(rig)
    rig.dispatch(rig.slack.view_submission_payload(view["id"], {}))
    refusal = rig.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=10,
        predicate=lambda c: EDIT_AND_RESEND_ACTION in str(c.params.get("blocks")),
    )
    message = {
        "ts": refusal.response["ts"],
        "text": refusal.params["text"],
        "blocks": refusal.params["blocks"],
    }
    rig.dispatch(
        rig.slack.block_actions_payload(
            EDIT_AND_RESEND_ACTION, message=message, channel=refusal.params["channel"]
        )
    )
    reopened = rig.slack.web.wait_for_call("views.open", predicate=lambda c: c.time > refusal.time)
    edited = rig.slack.view_submission_payload(
        reopened.response["view"]["id"], {"title": {"title": "Edited"}}
    )
    assert not rig.dispatch(edited).body
    rig.productlane.wait_for(lambda fake: fake.created_count == 1, timeout=10)

    counts = rig.bot.outbox.counts()
    assert (counts[Status.SUPERSEDED], counts[Status.FAILED]) == (1, 0)
    lines: list[str] = []
    run_outbox_command(
        settings_for(rig.slack, rig.productlane),
        retry_id=None,
        retry_failed=True,
        include_delivered=False,
        show_text=False,
        echo=lines.append,
        outbox=outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}"),
    )
    assert lines == ["re-queued 0 failed item(s); 1 superseded by an edited resend left alone"]
    assert rig.bot.outbox.counts()[Status.PENDING] == 0  # nothing left that could be sent
    assert [thread["title"] for thread in rig.productlane.threads] == ["Edited"]

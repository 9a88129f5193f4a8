"""End to end, settings per channel: `/feedback settings` through the real process, in
socket mode and in HTTP mode — who may open and save it, what it saves, and a second replica applying
a change within 5 seconds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.slack.ids import (
    CHANNEL_SETTINGS_MODAL,
    COMPANY_SELECT,
    FEEDBACK_COMMAND,
    FEEDBACK_MODAL,
    TAGS_SELECT,
)
from bot.ui.channel_views import (
    CAPTURE_BLOCK,
    COMPANY_BLOCK,
    CONFIRM_BLOCK,
    CONVERSATION_BLOCK,
    PAIN_BLOCK,
    TAGS_BLOCK,
)
from tests.channels.rig import (
    ADMIN,
    AUTHOR,
    CHANNEL,
    MEMBER,
    Replica,
    add_admin,
    message_event,
    open_settings,
    replica,
    submit_settings,
    threads_with,
)
from tests.databases import database_url
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import RESPONSE_URL, FakeSlack
from tests.running_bot import count_rows, since, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MODES = ("socket", "http")


def settings_views_opened(bot: Replica, mark: float) -> list[object]:
    return [
        call
        for call in bot.slack.web.calls("views.open")
        if since(mark)(call) and call.params["view"].get("callback_id") == CHANNEL_SETTINGS_MODAL
    ]


@pytest.mark.parametrize("mode", MODES)
def test_an_admin_saves_a_channels_settings_and_a_second_replica_applies_them(
    mode: str, tmp_path: Path
) -> None:
    url = database_url("sqlite", tmp_path)
    with FakeSlack() as slack, FakeSlack() as other_slack, FakeProductlane() as productlane:
        add_admin(slack)
        # What the settings name must exist in Productlane, or the thread goes without it.
        productlane.catalog.add_company("Acme Corp", company_id="cmp_acme")
        productlane.catalog.add_tag("billing", tag_id="tag_billing")
        productlane.catalog.add_tag("eu", tag_id="tag_eu")
        with (
            replica(slack, productlane, tmp_path / "a", mode, url) as first,
            replica(other_slack, productlane, tmp_path / "b", mode, url) as second,
        ):
            view = open_settings(first)
            blocks = {block.get("block_id"): block for block in view["blocks"]}
            # The company and tags are searchable selects the catalog answers (block_suggestion).
            assert blocks[COMPANY_BLOCK]["element"]["type"] == "external_select"
            assert blocks[COMPANY_BLOCK]["element"]["action_id"] == COMPANY_SELECT
            assert blocks[TAGS_BLOCK]["element"]["action_id"] == TAGS_SELECT
            # What the channel does today is what the modal shows for a channel without settings.
            assert blocks[CAPTURE_BLOCK]["element"]["initial_option"]["value"] == "reaction"
            assert blocks[CONFIRM_BLOCK]["element"]["initial_option"]["value"] == "thread"
            assert len(blocks[CONVERSATION_BLOCK]["element"]["initial_options"]) == 2

            answer = submit_settings(
                first,
                view,
                {
                    COMPANY_BLOCK: "cmp_acme",
                    PAIN_BLOCK: "HIGH",
                    TAGS_BLOCK: ["tag_billing", "tag_eu"],
                    CAPTURE_BLOCK: "automatic",
                    CONFIRM_BLOCK: "reaction",
                    CONVERSATION_BLOCK: ["followups"],
                },
            )
            assert not answer.get("errors"), answer

            # The other replica files a new message there as soon as it knows (it reads the settings
            # every second): post one at a time until one is captured. The ack comes once the message
            # is stored, so the first one stored is the only one filed.
            posted: list[str] = []

            def captured() -> bool:
                ts = f"{1764300000 + len(posted)}.000100"
                posted.append(ts)
                second.event(message_event(other_slack, ts, f"Replica check {ts}"))
                if count_rows(tmp_path / "outbox.db", "SELECT count(*) FROM outbox_items"):
                    return True
                time.sleep(0.1)
                return False

            wait_until(captured, "the second replica to capture a message", 60)
            wait_until(
                lambda: threads_with(productlane, "Replica check"), "the second replica to file a message"
            )
            filed = threads_with(productlane, "Replica check")
            assert len(filed) == 1
            filed_ts = posted[-1]
            assert filed_ts in filed[0]["text"]

            body = productlane.requests_to("POST", "/threads")[-1].json
            assert body["company_id"] == "cmp_acme"
            assert body["pain_level"] == "HIGH"
            assert body["contact_email"] == "jane@customer.example"
            # Confirmed by a ✅ reaction on the message, and nothing posted in the channel. The two
            # replicas share one outbox, each with a Slack of its own: whichever claims the item
            # confirms it, through its own Slack (on a busy machine, the first one's poll can win).
            both = (slack, other_slack)
            wait_until(
                lambda: any(each.web.reactions.get((CHANNEL, filed_ts)) for each in both), "the ✅ reaction"
            )
            assert [each.web.reactions.get((CHANNEL, filed_ts)) for each in both] in (
                [None, ["white_check_mark"]],
                [["white_check_mark"], None],
            )
            for each in both:
                assert not [
                    c for c in each.web.calls("chat.postMessage") if c.params.get("channel") == CHANNEL
                ]

            # Opened again, the modal shows what was saved, and who saved it.
            again = {block.get("block_id"): block for block in open_settings(first)["blocks"]}
            assert again[COMPANY_BLOCK]["element"]["initial_option"]["value"] == "cmp_acme"
            assert [o["value"] for o in again[TAGS_BLOCK]["element"]["initial_options"]] == [
                "tag_billing",
                "tag_eu",
            ]
            assert again[CAPTURE_BLOCK]["element"]["initial_option"]["value"] == "automatic"
            assert [o["value"] for o in again[CONVERSATION_BLOCK]["element"]["initial_options"]] == [
                "followups"
            ]
            assert f"<@{ADMIN}>" in str(view_intro(again))


def view_intro(blocks: dict[str | None, dict[str, object]]) -> object:
    return blocks[None]["elements"]


@pytest.mark.parametrize("mode", MODES)
def test_someone_not_an_admin_is_told_who_can_and_cannot_save_a_modal_either(
    mode: str, tmp_path: Path
) -> None:
    url = database_url("sqlite", tmp_path)
    with FakeSlack() as slack, FakeProductlane() as productlane:
        add_admin(slack)
        with replica(slack, productlane, tmp_path, mode, url, FEEDBACK_ADMINS="U0CSM0001") as bot:
            mark = time.monotonic()
            bot.command(slack.slash_command_payload(FEEDBACK_COMMAND, "settings", user_id=MEMBER))
            told = slack.web.wait_for_call(RESPONSE_URL, timeout=10, predicate=since(mark))
            assert told.params["response_type"] == "ephemeral"
            assert "Only workspace admins and owners, and <@U0CSM0001>" in told.params["text"]
            assert not settings_views_opened(bot, mark)

            # Someone named in FEEDBACK_ADMINS may; and the refused command opened nothing after its
            # answer either: the one modal opened since is theirs.
            open_settings(bot, user="U0CSM0001")
            assert len(settings_views_opened(bot, mark)) == 1

            # A modal an admin opened, saved by someone who may not: refused on the modal, nothing saved.
            view = open_settings(bot)
            refused = submit_settings(bot, view, {CAPTURE_BLOCK: "automatic"}, user=MEMBER)
            assert refused["response_action"] == "errors"
            assert "Nothing was saved" in refused["errors"][CAPTURE_BLOCK]
            # A save is decided on the ack path: the refusal's answer came after it.
            again = {block.get("block_id"): block for block in open_settings(bot)["blocks"]}
            assert again[CAPTURE_BLOCK]["element"]["initial_option"]["value"] == "reaction"


@pytest.mark.parametrize("mode", MODES)
def test_feedback_with_any_other_text_is_still_feedback(mode: str, tmp_path: Path) -> None:
    url = database_url("sqlite", tmp_path)
    with FakeSlack() as slack, FakeProductlane() as productlane:
        add_admin(slack)
        with replica(slack, productlane, tmp_path, mode, url) as bot:
            for text in ("settings page is broken", "Settings?"):
                mark = time.monotonic()
                bot.command(slack.slash_command_payload(FEEDBACK_COMMAND, text, user_id=ADMIN))
                opened = slack.web.wait_for_call("views.open", timeout=10, predicate=since(mark))
                assert opened.params["view"]["callback_id"] == FEEDBACK_MODAL
                assert text in str(opened.params["view"]["blocks"])
            # Typed in a direct message, the settings word says where settings belong.
            mark = time.monotonic()
            bot.command(
                slack.slash_command_payload(
                    FEEDBACK_COMMAND, " SETTINGS ", channel_id="D0ADMIN001", user_id=ADMIN
                )
            )
            told = slack.web.wait_for_call(RESPONSE_URL, timeout=10, predicate=since(mark))
            assert "type `/feedback settings` in the channel" in told.params["text"]
            assert AUTHOR  # the channel's author plays no part here

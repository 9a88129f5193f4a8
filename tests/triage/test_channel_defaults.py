"""A channel's settings preselect the modal: its company (before the contact's domain),
its default tags and pain level — for the message shortcut and for /feedback alike. The bot is built
by the factory, the channel's settings saved as `/feedback settings` saves them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.app import Bot, build_bot
from bot.channels.store import ChannelSettingsStore
from bot.productlane import ProductlaneClient
from bot.slack.ids import FEEDBACK_COMMAND, MESSAGE_SHORTCUT
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.listeners.test_listeners import blocks_by_id, settings_for
from tests.triage.workspace import SCOPES, Seeded, seed

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[FakeSlack, Bot, Seeded]]:
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        ids = seed(productlane)
        outbox = outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}")
        ChannelSettingsStore(outbox.database).apply(
            [
                (
                    "C0FEEDBACK",
                    {"company_id": ids["bigco"], "tag_ids": [ids["enterprise_tag"]], "pain_level": "HIGH"},
                )
            ],
            by="U0ADMIN001",
        )
        bot = build_bot(
            settings_for(slack, productlane),
            web_client=WebClient(token=slack.bot_token, base_url=slack.api_url),
            productlane=ProductlaneClient(productlane.api_key, productlane.url),
            outbox=outbox,
        )
        assert bot.catalog.refresh_now() == 5
        yield slack, bot, ids
        bot.close()


def opened(
    slack: FakeSlack, bot: Bot, payload: dict[str, Any], *, refreshed: bool = False
) -> dict[str, dict[str, Any]]:
    mark = time.monotonic()
    bot.app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
    call = slack.web.wait_for_call("views.open", timeout=10, predicate=lambda c: c.time >= mark)
    view_id = call.response["view"]["id"]
    if refreshed:
        slack.web.wait_for_call(
            "views.update",
            timeout=10,
            predicate=lambda c: c.time >= mark and c.params.get("view_id") == view_id,
        )
    return blocks_by_id(dict(slack.web.views[view_id]))


def test_the_channels_company_tags_and_pain_level_come_with_the_modal(
    rig: tuple[FakeSlack, Bot, Seeded],
) -> None:
    slack, bot, ids = rig
    blocks = opened(slack, bot, slack.message_shortcut_payload(MESSAGE_SHORTCUT), refreshed=True)
    # Jane's email is at customer.example, but the channel's company comes first.
    assert blocks["company"]["element"]["initial_option"]["value"] == ids["bigco"]
    assert blocks["company"]["block_id"] == "company"  # there from the start, not filled in later
    assert [o["value"] for o in blocks["tags"]["element"]["initial_options"]] == [ids["enterprise_tag"]]
    assert blocks["pain_level"]["element"]["initial_option"]["value"] == "HIGH"


def test_feedback_in_the_channel_starts_with_its_defaults_and_elsewhere_without(
    rig: tuple[FakeSlack, Bot, Seeded],
) -> None:
    slack, bot, ids = rig
    here = opened(
        slack, bot, slack.slash_command_payload(FEEDBACK_COMMAND, "Dark mode", channel_id="C0FEEDBACK")
    )
    assert here["company"]["element"]["initial_option"]["value"] == ids["bigco"]
    assert here["pain_level"]["element"]["initial_option"]["value"] == "HIGH"
    slack.web.add_channel("C0ELSEWHR", "random")
    elsewhere = opened(
        slack, bot, slack.slash_command_payload(FEEDBACK_COMMAND, "Dark mode", channel_id="C0ELSEWHR")
    )
    assert "initial_option" not in elsewhere["company"]["element"]
    assert elsewhere["pain_level"]["element"]["initial_option"]["value"] == "MEDIUM"  # the bot's default

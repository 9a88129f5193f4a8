"""The settings modal (pure): what it shows for a channel, and what a submission of it saves."""

from __future__ import annotations

from typing import Any

from bot.catalog.kinds import Kind
from bot.channels.model import Capture, ChannelSettings, Confirm
from bot.productlane.models import PainLevel
from bot.slack.ids import CHANNEL_SETTINGS_MODAL
from bot.ui.channel_views import (
    CAPTURE_BLOCK,
    COMPANY_BLOCK,
    CONFIRM_BLOCK,
    CONVERSATION_BLOCK,
    NO_COMPANY,
    PAIN_BLOCK,
    TAGS_BLOCK,
    SettingsModalContent,
    settings_from_state,
    settings_modal,
)
from tests.fakes.slack import build_state_values


class Names:
    def name(self, kind: Kind, item_id: str) -> str | None:
        return {(Kind.COMPANIES, "cmp_1"): "Acme Corp", (Kind.TAGS, "tag_1"): "Billing"}.get((kind, item_id))


def modal(settings: ChannelSettings, emoji: str = "inbox_tray") -> dict[str, Any]:
    content = SettingsModalContent("C0123ABCD", settings, PainLevel.UNKNOWN, emoji)
    view = settings_modal(content, Names())
    view.validate_json()  # Block Kit's limits, checked by slack_sdk
    return view.to_dict()


def blocks(view: dict[str, Any]) -> dict[str, Any]:
    return {block.get("block_id"): block for block in view["blocks"]}


def test_a_channel_without_settings_shows_what_happens_there_today() -> None:
    view = modal(ChannelSettings(channel="C0123ABCD"))
    shown = blocks(view)
    assert view["callback_id"] == CHANNEL_SETTINGS_MODAL
    assert view["private_metadata"] == "C0123ABCD"
    assert "initial_option" not in shown[COMPANY_BLOCK]["element"]
    assert NO_COMPANY not in shown
    assert shown[PAIN_BLOCK]["element"]["initial_option"]["value"] == "default"
    assert shown[CAPTURE_BLOCK]["element"]["initial_option"]["value"] == "reaction"
    without_emoji = blocks(modal(ChannelSettings(channel="C0123ABCD"), emoji=""))
    assert without_emoji[CAPTURE_BLOCK]["element"]["initial_option"]["value"] == "shortcut"
    assert shown[CONFIRM_BLOCK]["element"]["initial_option"]["value"] == "thread"
    assert len(shown[CONVERSATION_BLOCK]["element"]["initial_options"]) == 2


def test_saved_settings_show_with_names_from_the_catalog_or_the_ids() -> None:
    settings = ChannelSettings(
        channel="C0123ABCD",
        company_id="cmp_1",
        pain_level=PainLevel.HIGH,
        tag_ids=("tag_1", "tag_unknown"),
        capture=Capture.AUTOMATIC,
        confirm=Confirm.PRIVATE,
        followups=False,
    )
    shown = blocks(modal(settings))
    assert shown[COMPANY_BLOCK]["element"]["initial_option"]["text"]["text"] == "Acme Corp"
    assert [o["text"]["text"] for o in shown[TAGS_BLOCK]["element"]["initial_options"]] == [
        "Billing",
        "tag_unknown",
    ]
    assert "Acme Corp" in str(shown[NO_COMPANY])
    assert [o["value"] for o in shown[CONVERSATION_BLOCK]["element"]["initial_options"]] == ["replies"]


def test_a_submission_saves_every_key_the_modal_shows() -> None:
    settings = ChannelSettings(channel="C0123ABCD", company_id="cmp_1", tag_ids=("tag_1",))
    view = modal(settings)
    untouched = settings_from_state(build_state_values(view["blocks"], {}))
    assert ChannelSettings(channel="C0123ABCD").merged(untouched) == settings.model_copy(
        update={"capture": Capture.REACTION, "confirm": Confirm.THREAD}
    )
    changed = build_state_values(
        view["blocks"],
        {
            NO_COMPANY: {NO_COMPANY: [NO_COMPANY]},
            PAIN_BLOCK: {PAIN_BLOCK: "MEDIUM"},
            CAPTURE_BLOCK: {CAPTURE_BLOCK: "automatic"},
            CONFIRM_BLOCK: {CONFIRM_BLOCK: "reaction"},
            CONVERSATION_BLOCK: {CONVERSATION_BLOCK: []},
        },
    )
    assert settings_from_state(changed) == {
        "company_id": None,
        "pain_level": "MEDIUM",
        "tag_ids": ["tag_1"],
        "capture": "automatic",
        "confirm": "reaction",
        "followups": False,
        "replies": False,
    }

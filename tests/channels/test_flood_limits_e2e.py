"""Flood limits through the real process: one author floods an automatic channel and a filed thread.
The first messages over the limit are held (kept, not sent), the admins get one message, the admin's
Home lists what is held with File and Drop; File sends the held messages the usual way, Drop deletes
held replies for good."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import HOME_DROP_HELD_ACTION, HOME_FILE_HELD_ACTION
from bot.ui.channel_views import CAPTURE_BLOCK, CONFIRM_BLOCK
from tests.channels.rig import (
    ADMIN,
    AUTHOR,
    CHANNEL,
    Replica,
    add_admin,
    message_event,
    replica,
    set_channel,
)
from tests.databases import database_url
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_home import app_home_opened_payload
from tests.running_bot import count_rows, since, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PER_AUTHOR = 3
FOLLOWUPS_PER_AUTHOR = 2
FLOOD = 7  # messages from one author: PER_AUTHOR become threads, the rest are held
WENT_OVER = "went over a flood limit"


def alerts(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        call.params
        for call in slack.web.calls("chat.postMessage")
        if WENT_OVER in str(call.params.get("text")) and call.response.get("ok")
    ]


def open_home(bot: Replica, user_id: str) -> dict[str, Any]:
    """``user_id`` opens the App Home: the view the bot published for them."""
    mark = time.monotonic()
    bot.event(app_home_opened_payload(bot.slack, user_id))
    return republished(bot, user_id, mark)


def republished(bot: Replica, user_id: str, mark: float, shows: str = "") -> dict[str, Any]:
    def published() -> dict[str, Any] | None:
        for call in reversed(bot.slack.web.calls("views.publish")):
            if since(mark)(call) and call.params.get("user_id") == user_id and call.response.get("ok"):
                view: dict[str, Any] = call.params["view"]
                if shows in json.dumps(view["blocks"], ensure_ascii=False):
                    return view
        return None

    found: dict[str, Any] = wait_until(published, f"{user_id}'s Home published")
    return found


def held_section(view: dict[str, Any], noun: str) -> str:
    for block in view["blocks"]:
        text = str((block.get("text") or {}).get("text") or "")
        if block["type"] == "section" and f"{noun}* held" in text:
            return text
    return ""


def press(bot: Replica, view: dict[str, Any], action_id: str, value_prefix: str) -> float:
    """An admin presses a File or Drop button of the Home (a view, no channel)."""
    buttons = [
        element
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id and element["value"].startswith(value_prefix)
    ]
    assert buttons, view["blocks"]
    mark = time.monotonic()
    stored = bot.slack.web.homes[ADMIN]
    payload = bot.slack.block_actions_payload(
        action_id, view=stored["id"], value=buttons[0]["value"], user=ADMIN
    )
    bot.interactive(payload)
    return mark


def test_a_flood_from_one_author_is_held_for_the_admins_who_file_or_drop_it(tmp_path: Path) -> None:
    url = database_url("sqlite", tmp_path)
    scopes = ("threads:read", "threads:write", "files:write", "comments:write")
    with FakeSlack() as slack, FakeProductlane(scopes=scopes) as productlane:
        add_admin(slack)
        with replica(
            slack,
            productlane,
            tmp_path / "bot",
            "socket",
            url,
            AUTOMATIC_PER_AUTHOR_HOUR=str(PER_AUTHOR),
            AUTOMATIC_PER_CHANNEL_HOUR="100",
            FOLLOWUPS_PER_AUTHOR_HOUR=str(FOLLOWUPS_PER_AUTHOR),
            FOLLOWUP_BATCH_SECONDS="1",
        ) as bot:
            set_channel(bot, {CAPTURE_BLOCK: "automatic", CONFIRM_BLOCK: "reaction"})
            flood_and_file(bot, slack, productlane, url)


def flood_and_file(bot: Replica, slack: FakeSlack, productlane: FakeProductlane, url: str) -> None:
    # One author posts FLOOD messages; Slack delivers the last one twice (a retry).
    stamps = [f"17643700{10 + n:02d}.000100" for n in range(FLOOD)]
    for n, ts in enumerate(stamps):
        bot.event(message_event(slack, ts, f"Flood message {n}"))
    bot.event(message_event(slack, stamps[-1], f"Flood message {FLOOD - 1}"), retry_attempt=1)

    held = FLOOD - PER_AUTHOR
    wait_until(lambda: bot.log().count("held: over the flood limits") >= held, "the rest held")
    wait_until(lambda: len(productlane.threads) == PER_AUTHOR, "the first threads")
    wait_until(lambda: "admin(s) told" in bot.log(), "the admins told")
    assert count_rows(url, "SELECT count(*) FROM flood_held") == held
    assert count_rows(url, "SELECT count(*) FROM outbox_items") == PER_AUTHOR
    assert [t["title"] for t in productlane.threads] == [f"Flood message {n}" for n in range(PER_AUTHOR)]

    # One message to the admins (a DM to the workspace admin), not one per held message.
    told = alerts(slack)
    assert len(told) == 1, told
    assert f"<#{CHANNEL}>" in told[0]["text"]
    assert f"more than {PER_AUTHOR}" in told[0]["text"]

    # The admin's Home lists what is held, with File and Drop.
    home = open_home(bot, ADMIN)
    line = held_section(home, "new threads")
    assert f"<#{CHANNEL}>" in line
    assert f"*{held} new threads* held" in line
    assert f"<@{AUTHOR}>" in line
    shown = json.dumps(home["blocks"], ensure_ascii=False)
    assert "Held by the flood limits" in shown
    assert "OUTBOX_RETENTION_DAYS" in shown

    # File: the held messages become threads the usual way, in the order they were posted.
    mark = press(bot, home, HOME_FILE_HELD_ACTION, "automatic:")
    wait_until(lambda: len(productlane.threads) == FLOOD, "the held messages filed")
    assert [t["title"] for t in productlane.threads] == [f"Flood message {n}" for n in range(FLOOD)]
    after = republished(bot, ADMIN, mark)
    assert not held_section(after, "new threads")
    assert count_rows(url, "SELECT count(*) FROM flood_held") == 0

    # Follow-ups: the author floods the first thread's Slack thread; the rest are held and dropped.
    parent = stamps[0]
    wait_until(lambda: "following the Slack thread" in bot.log(), "the first thread followed")
    replies = [f"17643701{n:02d}.000200" for n in range(4)]
    for n, ts in enumerate(replies):
        bot.event(message_event(slack, ts, f"Reply {n}", thread_ts=parent))
    held_replies = len(replies) - FOLLOWUPS_PER_AUTHOR
    wait_until(lambda: bot.log().count("(new): held, over the flood limits") >= held_replies, "replies held")
    wait_until(lambda: len(alerts(slack)) == 2, "a new episode: the admins told again")

    home = open_home(bot, ADMIN)
    assert f"*{held_replies} follow-ups* held" in held_section(home, "follow-ups")
    mark = press(bot, home, HOME_DROP_HELD_ACTION, "followup:")
    after = republished(bot, ADMIN, mark)
    assert not held_section(after, "follow-ups")
    assert count_rows(url, "SELECT count(*) FROM flood_held") == 0
    # What was let through reaches Productlane; what was dropped never does.
    comments = wait_until(
        lambda: [c for c in productlane.conversation.comments if "Reply 1" in json.dumps(c)],
        "the kept replies sent",
    )
    sent = json.dumps(comments)
    assert "Reply 0" in sent
    assert "Reply 1" in sent
    everything = json.dumps(productlane.conversation.comments) + json.dumps(productlane.threads)
    assert not re.search(r"Reply [23]", everything)

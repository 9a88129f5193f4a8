"""A whole Slack thread as the body: people's messages in order, the pointed-at one marked, bots and
Slack's own messages left out, and a long thread cut with a line saying how much was left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.feedback.capture import Captured, SlackFile
from bot.feedback.compose import SlackContext, thread_html
from bot.feedback.conversation import conversation_html, included_messages
from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage
from bot.render.document import CopiedFile
from bot.render.names import StaticNames

FIXTURE = Path(__file__).parent.parent / "fixtures" / "slack" / "conversations_replies.json"
NAMES = StaticNames(users={"U0CUST0003": "Jane Doe", "U0CSM0002": "dana"})
LINK = "https://acme.slack.com/archives/C0FEEDBACK/p1764252900000100"


def thread() -> list[dict[str, Any]]:
    pages = json.loads(FIXTURE.read_text())
    return [*pages["page_1"]["messages"], *pages["page_2"]["messages"]]


def test_people_in_order_bots_and_joins_left_out():
    kept = included_messages(thread(), "1764253100.000300")
    assert [m["text"] for m in kept] == [
        "Export to CSV times out for big workspaces",
        "Which browser, and roughly how many rows?",
        "Chrome, about 40k rows",
        "Still failing today",
    ]


def test_a_bot_message_pointed_at_is_kept():
    kept = included_messages(thread(), "1764253200.000400")
    assert "Incident 42 resolved" in [m["text"] for m in kept]


def test_each_message_has_its_author_and_time_and_the_pointed_one_is_marked():
    html = conversation_html(thread(), "1764253100.000300", NAMES, {}, LINK)
    assert html.startswith(
        "<p><strong>@Jane Doe</strong> · 2025-11-27 14:15 UTC</p>"
        "<p>Export to CSV times out for big workspaces</p>"
    )
    assert (
        "<p><strong>➤ @Jane Doe</strong> · 2025-11-27 14:18 UTC · "
        "<em>the message this feedback was sent from</em></p><p>Chrome, about 40k rows</p>"
    ) in html
    assert "<strong>@dana</strong>" in html
    assert "Incident 42" not in html
    assert "left out" not in html


def test_a_long_thread_is_cut_with_a_count_and_a_link_the_pointed_message_always_in():
    long = thread()[:1] + [
        {"type": "message", "user": "U0CSM0002", "ts": f"1764253{index:03d}.000100", "text": "word " * 200}
        for index in range(400, 430)
    ]
    pointed = long[-1]["ts"]
    html = conversation_html(long, pointed, NAMES, {}, LINK, limit=5000)
    assert len(html) < 5000 + 2000
    assert "the message this feedback was sent from" in html
    kept = html.count("<strong>@dana</strong>")
    assert kept >= 1
    left_out = 30 - 1 - kept
    assert f"{left_out} more messages of this thread were left out to keep this short." in html
    assert f'<a href="{LINK}">Read the whole thread in Slack.</a>' in html


def test_files_in_replies_use_their_copies():
    replies = thread()
    replies[1]["files"] = [{"id": "F9", "name": "shot.png", "mimetype": "image/png"}]
    copies = {"F9": CopiedFile("https://cdn.productlane.test/F9/shot.png")}
    html = conversation_html(replies, "1764252900.000100", NAMES, copies, None)
    assert '<p><img src="https://cdn.productlane.test/F9/shot.png"></p>' in html


SOURCE = SourceMessage(
    workspace_team_id="T0ACME0001",
    channel_id="C0FEEDBACK",
    ts="1764253100.000300",
    thread_ts="1764252900.000100",
    author_id="U0CUST0003",
    content={"text": "Chrome, about 40k rows"},
)
FORM = FeedbackForm(contact_email="jane@customer.example", include_thread=True)


def test_the_body_is_the_conversation_when_it_was_gathered():
    html = thread_html(
        FORM,
        SOURCE,
        "U0CSM0002",
        SlackContext(permalink=LINK),
        NAMES,
        "ref1",
        Captured(thread=tuple(thread())),
    )
    assert html.index("Export to CSV") < html.index("Chrome, about 40k rows") < html.index("Still failing")
    assert "ref ref1" in html


def test_a_thread_slack_refused_leaves_the_message_and_a_note():
    html = thread_html(
        FORM,
        SOURCE,
        "U0CSM0002",
        SlackContext(),
        NAMES,
        None,
        Captured(thread_problem="the bot is not in this channel"),
    )
    assert html.startswith(
        "<p>Chrome, about 40k rows</p><p><em>Only this message is here, not its Slack thread: "
        "the bot is not in this channel.</em></p>"
    )


def test_the_submitter_hears_what_did_not_make_it():
    captured = Captured(
        thread_problem="the bot is not in this channel",
        files=(SlackFile(id="F1", name="a.svg"), SlackFile(id="F2", name="b.png")),
        copies={
            "F1": CopiedFile(None, "Productlane does not accept SVG files"),
            "F2": CopiedFile("https://x"),
        },
    )
    assert captured.submitter_notes() == [
        "Only the message was sent, not the whole thread: the bot is not in this channel.",
        "Kept as links to Slack: a.svg (Productlane does not accept SVG files).",
    ]

"""An outage of the outbox longer than Slack's retries loses no channel message: once the database
is back, the automatic channels and the followed threads are read back from Slack, and what the
outage kept out is filed, once."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bot.ui.channel_views import CAPTURE_BLOCK, CONFIRM_BLOCK
from tests.channels.rig import CHANNEL, add_admin, message_event, replica, set_channel, threads_with
from tests.conversation.conversation_world import SCOPES
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import outbox_settled, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_what_slack_gave_up_on_during_an_outage_is_read_back_and_filed_once(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    url = f"sqlite:///{database}"
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        add_admin(slack)
        # The bot's writes give up on the held lock after 1 s, not SQLite's usual 10: the outage is
        # the same, the test waits less for it. Follow-ups are gathered for a second, not ten.
        with replica(
            slack,
            productlane,
            tmp_path / "a",
            "socket",
            url,
            CATCH_UP_AFTER_SECONDS="0",
            SQLITE_BUSY_TIMEOUT_SECONDS="1",
            FOLLOWUP_BATCH_SECONDS="1",
        ) as bot:
            set_channel(bot, {CAPTURE_BLOCK: "automatic", CONFIRM_BLOCK: "reaction"})
            # Messages of today: the catch-up reads from shortly before the outage began.
            parent_ts = f"{time.time() - 5:.6f}"
            before = message_event(slack, parent_ts, "Filed before the outage")
            slack.web.add_message(CHANNEL, before["event"])
            bot.event(before)
            (filed,) = wait_until(lambda: threads_with(productlane, "Filed before"), "the first thread")
            wait_until(lambda: "following the Slack thread" in bot.log(), "its thread followed")

            # The database refuses every write: another process holds its write lock.
            blocker = sqlite3.connect(database, timeout=30, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                lost = message_event(slack, f"{time.time():.6f}", "Posted during the outage")
                slack.web.add_message(CHANNEL, lost["event"])
                # Slack's last retry of the event goes unacked too: then it gives up on it.
                slack.socket.send_envelope("events_api", lost)
                wait_until(
                    lambda: "keeping a channel message failed" in bot.log(), "the bot to fail to keep it", 60
                )
                # A reply whose event's every retry came while the database was away: only Slack has it.
                reply = message_event(
                    slack, f"{time.time():.6f}", "A reply during the outage", thread_ts=parent_ts
                )
                slack.web.add_message(CHANNEL, reply["event"])
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()

            wait_until(lambda: threads_with(productlane, "Posted during the outage"), "the lost message", 90)
            wait_until(
                lambda: any(
                    "A reply during the outage" in str(comment)
                    for comment in productlane.conversation.comments_on(filed["id"])
                ),
                "the lost reply, as a follow-up",
                90,
            )
            wait_until(lambda: "caught up after the outage" in bot.log(), "the catch-up's log line")
            assert "keeping a channel message works again" not in bot.log()  # no event was kept late
            outbox_settled(url)
            assert len(threads_with(productlane, "Posted during the outage")) == 1
            assert len(threads_with(productlane, "Filed before the outage")) == 1
            assert [thread["title"] for thread in productlane.threads] == [
                "Filed before the outage",
                "Posted during the outage",
            ]


def test_a_captured_messages_replies_reach_a_productlane_without_comments_in_its_body(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        add_admin(slack)
        productlane.conversation.comments_status = 404  # this Productlane takes no comments
        # Follow-ups gathered for a second, not ten: the test waits for the rewritten body.
        with replica(slack, productlane, tmp_path / "a", "socket", url, FOLLOWUP_BATCH_SECONDS="1") as bot:
            set_channel(bot, {CAPTURE_BLOCK: "automatic", CONFIRM_BLOCK: "reaction"})
            parent_ts = f"{time.time():.6f}"
            first = message_event(slack, parent_ts, "Captured without a contact typed in")
            slack.web.add_message(CHANNEL, first["event"])
            bot.event(first)
            (filed,) = wait_until(lambda: threads_with(productlane, "Captured without"), "the thread")
            wait_until(lambda: "following the Slack thread" in bot.log(), "its thread followed")
            reply = message_event(slack, f"{time.time():.6f}", "And on mobile too", thread_ts=parent_ts)
            slack.web.add_message(CHANNEL, reply["event"])
            bot.event(reply)

            # The whole conversation is written into the body, the author still its contact.
            def rewritten() -> bool:
                thread = next(t for t in productlane.threads if t["id"] == filed["id"])
                return "And on mobile too" in thread["text"]

            wait_until(rewritten, "the reply written into the thread's body", 60)
            assert "failed; trying again" not in bot.log(), "no failed attempt on the way"

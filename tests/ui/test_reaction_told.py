"""Whatever stops an emoji from filing a message, the person who reacted hears it: here, an outbox
that cannot take the submission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from sqlalchemy.exc import OperationalError

from bot.delivery.sent import SentRecord
from bot.feedback.form import FormDefaults
from bot.feedback.submission import Filed, Submission
from bot.productlane import PainLevel
from bot.slack.lookups import SlackLookups
from bot.slack.replies import SlackTools
from bot.ui.modals import BotIdentity
from bot.ui.reactions import ReactionFiler
from tests.fakes.slack import TEAM_ID, FakeSlack


class OutboxAway:
    """Delivery with its database gone: nothing can be accepted."""

    def already_sent(self, channel_id: str, ts: str) -> SentRecord | None:
        return None

    def file(self, submission: Submission) -> Filed:
        raise OperationalError("INSERT INTO items ...", {}, Exception("database is locked"))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_a_reaction_the_outbox_cannot_take_tells_the_person_to_try_again(slack: FakeSlack) -> None:
    ts = "1764390000.000100"
    slack.web.add_message(
        "C0FEEDBACK", {"type": "message", "user": "U0CUST0003", "ts": ts, "text": "Search is slow"}
    )
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    lookups = SlackLookups(client)
    filer = ReactionFiler(
        SlackTools.over(client, lookups),
        OutboxAway(),
        FormDefaults(pain_level=PainLevel.UNKNOWN, notify_slack=False, notify_email=False),
        BotIdentity(user_id="U0BOT00001", bot_id="B0BOT00001", team_id=TEAM_ID),
        "inbox_tray",
    )
    event = slack.reaction_added_payload(ts)["event"]

    filer.on_reaction(event, TEAM_ID)

    (told,) = slack.web.calls("chat.postEphemeral")
    assert told.params["user"] == "U0CSM0002"
    assert told.params["channel"] == "C0FEEDBACK"
    assert "I couldn't keep it just now, so nothing was sent" in told.params["text"]
    assert "add it again in a few minutes" in told.params["text"]

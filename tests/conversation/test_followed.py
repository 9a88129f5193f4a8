"""Which threads are followed, in memory on every replica, and what the ack path keeps: a channel's
settings turn follow-ups off there, FOLLOWUP_DAYS=0 everywhere; a replica learns of the threads
another one filed within a refresh; deciding "not a follow-up" reads no database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.channels.model import ChannelSettings
from bot.conversation.followed import FollowedThreads
from bot.conversation.intake import FollowUpIntake, kept_message
from bot.conversation.priority import NewFeedbackFirst
from bot.conversation.store import FollowUpStore
from bot.delivery.intake import Intake
from bot.delivery.outbox import Outbox
from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage
from bot.feedback.submission import Submission
from bot.message_events import Interest, MessageEvents, Outcome, Route
from bot.productlane import PainLevel
from tests.fakes.slack import FakeSlack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

CHANNEL, QUIET, PARENT = "C0FEEDBACK", "C0QUIET001", "1700000000.000100"
BOT_USER, BOT_ID = "U0BOT00001", "B0BOT00001"


class Settings:
    """A ChannelSettingsSource with fixed answers."""

    def __init__(self, *settings: ChannelSettings) -> None:
        self._by_channel = {s.channel: s for s in settings}

    def for_channel(self, channel_id: str) -> ChannelSettings | None:
        return self._by_channel.get(channel_id)

    def all(self) -> Sequence[ChannelSettings]:
        return list(self._by_channel.values())


def submission(channel: str = CHANNEL, parent: str = PARENT, key: str = "V-1") -> Submission:
    return Submission(
        key=key,
        submitter_id="U0CSM0002",
        form=FeedbackForm(
            title="Exports fail", contact_email="jane@customer.example", pain_level=PainLevel.HIGH
        ),
        source=SourceMessage(
            workspace_team_id="T0ACME0001",
            channel_id=channel,
            ts=parent,
            thread_ts=parent,
            author_id="U0CUST0003",
            content={"text": "Exports fail"},
        ),
        submitted_at=datetime.now(UTC),
    )


def replica(
    store: FollowUpStore, settings: Settings, days: int = 30
) -> tuple[Interest, FollowedThreads, MessageEvents]:
    interest = Interest()
    followed = FollowedThreads(store, interest, settings, days)
    events = MessageEvents(interest, bot_user_id=BOT_USER, bot_id=BOT_ID)
    events.consume(Route.FOLLOW_UP, FollowUpIntake(store, followed, lambda: None))
    return interest, followed, events


def reply(channel: str = CHANNEL, ts: str = "1700000001.000100", **changes: Any) -> dict[str, Any]:
    return FakeSlack().message_event_payload(
        "thread_reply_by_person", channel=channel, thread_ts=PARENT, ts=ts, **changes
    )


def test_the_replica_that_filed_follows_at_once_and_the_other_within_a_refresh(store: FollowUpStore) -> None:
    interest_a, followed_a, events_a = replica(store, Settings())
    _, followed_b, events_b = replica(store, Settings())
    followed_a.record(submission(), {"thread_id": "th_1"})
    assert (CHANNEL, PARENT) in interest_a.followed()
    assert events_a.handle(reply(ts="1700000001.000100")) is Outcome.FOLLOW_UP
    # Replica B has not looked yet: to it the reply is nobody's (Slack sends each event once, to
    # one replica; this one would not have been kept — that is what the refresh is for).
    assert events_b.handle(reply(ts="1700000002.000100")) is Outcome.IGNORED
    assert followed_b.refresh(force=True)
    assert events_b.handle(reply(ts="1700000003.000100")) is Outcome.FOLLOW_UP
    assert [r.ts for r in store.replies(CHANNEL, PARENT)] == ["1700000001.000100", "1700000003.000100"]
    # Nothing changed since: the next refresh reads a count and a time, not the whole set.
    assert not followed_b.refresh(force=False)


def test_a_channel_whose_settings_turn_follow_ups_off_is_not_followed(store: FollowUpStore) -> None:
    settings = Settings(ChannelSettings(channel=QUIET, followups=False))
    interest, followed, events = replica(store, settings)
    followed.record(submission(QUIET), {"thread_id": "th_1"})
    followed.record(submission(CHANNEL, key="V-2"), {"thread_id": "th_2"})
    followed.refresh(force=True)
    assert interest.followed() == frozenset({(CHANNEL, PARENT)})
    assert events.handle(reply(QUIET)) is Outcome.IGNORED
    # Even were it routed (a settings change not yet refreshed), the consumer keeps nothing.
    interest.follow(QUIET, PARENT)
    assert events.handle(reply(QUIET)) is Outcome.FOLLOW_UP
    assert store.replies(QUIET, PARENT) == []


def test_followup_days_0_follows_nothing(store: FollowUpStore) -> None:
    interest, followed, _ = replica(store, Settings(), days=0)
    followed.record(submission(), {"thread_id": "th_1"})
    followed.refresh(force=True)
    assert interest.followed() == frozenset()
    assert store.followed_now() == []


def test_a_message_without_a_source_or_a_thread_follows_nothing(store: FollowUpStore) -> None:
    _, followed, _ = replica(store, Settings())
    followed.record(submission().model_copy(update={"source": None}), {"thread_id": "th_1"})
    followed.record(submission(), {})
    assert store.followed_now() == []


def test_only_what_is_shown_of_a_reply_is_kept() -> None:
    event = FakeSlack().message_event_payload("reply_with_file")["event"]
    event["user_profile"] = {"real_name": "Jane Doe", "image_72": "https://x", "email": "jane@x"}
    kept = kept_message(event)
    assert set(kept) <= {
        "text",
        "files",
        "user",
        "ts",
        "thread_ts",
        "subtype",
        "user_profile",
        "team",
        "user_team",
    }
    assert kept["user_profile"] == {"real_name": "Jane Doe"}
    assert kept["files"][0]["id"] == "F0FOLLOW01"


def test_new_feedback_waiting_holds_follow_ups_back(outbox: Outbox) -> None:
    first = NewFeedbackFirst(outbox)
    assert not first.waiting()
    item = Intake(outbox).add(submission())
    assert first.waiting()  # due now
    [claimed] = outbox.claim("sender", 1, 30)
    assert first.waiting()  # on its way (files uploading, a slot awaited)
    outbox.record_thread(claimed.id, "sender", {"thread_id": "th_1"})
    assert not first.waiting()  # only its confirmation is left: no write needed
    assert item.created

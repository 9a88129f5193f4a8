"""Automatic capture and confirmation styles, piece by piece: the consumer on the ack path (one row,
once), a deletion remembered, the author as the contact in delivery, and who hears what in each style."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from slack_sdk import WebClient

from bot.automatic.capture import (
    NO_CONTACT,
    AutomaticCapture,
    AutomaticComposer,
    DeletedInSlack,
    automatic_key,
)
from bot.channels.cache import ChannelSettingsCache
from bot.channels.confirm import news_may_follow
from bot.channels.defaults import with_channel_defaults
from bot.channels.model import ChannelSettings
from bot.channels.store import ChannelSettingsStore
from bot.delivery.composer import SlackComposer
from bot.delivery.outbox import Outbox
from bot.feedback.form import FeedbackForm, FormDefaults
from bot.feedback.source import SourceMessage
from bot.feedback.submission import Submission
from bot.message_events import read_message_event
from bot.productlane.models import CreateThread, PainLevel
from bot.slack.lookups import SlackLookups
from bot.slack.replies import SlackMessenger
from bot.ui.notifier import SlackNotifier
from tests.databases import outbox_at
from tests.fakes.slack import BOT_ID, BOT_USER_ID, FakeSlack

CHANNEL = "C0SHARED01"
DEFAULTS = FormDefaults(pain_level=PainLevel.UNKNOWN, notify_slack=False, notify_email=True)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with outbox_at(f"sqlite:///{tmp_path / 'outbox.db'}") as opened:
        yield opened


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.web.add_channel(CHANNEL, "acme-shared", is_ext_shared=True)
        yield fake


def capture(outbox: Outbox, **settings: Any) -> tuple[AutomaticCapture, ChannelSettingsStore]:
    store = ChannelSettingsStore(outbox.database)
    store.apply([(CHANNEL, {"capture": "automatic", **settings})], by="test")
    return AutomaticCapture(outbox, store, ChannelSettingsCache(store), DEFAULTS), store


def message(slack: FakeSlack, name: str = "top_level_by_person", **changes: Any) -> Any:
    payload = slack.message_event_payload(name, **changes)
    read = read_message_event(payload["event"], bot_user_id=BOT_USER_ID, bot_id=BOT_ID)
    assert read is not None
    return read


def test_a_new_message_becomes_one_item_with_the_channels_defaults_due_a_moment_later(
    outbox: Outbox, slack: FakeSlack
) -> None:
    consumer, _ = capture(outbox, company_id="cmp_1", pain_level="HIGH", tag_ids=["tag_1"])
    before = datetime.now(UTC)
    consumer(message(slack), "T0ACME0001")
    consumer(message(slack), "T0ACME0001")  # Slack again, or the other replica
    items = outbox.list_items()
    assert len(items) == 1
    assert items[0].dedupe_key == automatic_key(CHANNEL, "1733150100.000200")
    assert items[0].next_attempt_at >= before + timedelta(seconds=2)
    submission = Submission.model_validate(items[0].payload)
    assert submission.via_automatic
    assert submission.submitter_id == "U0CUST0003"
    assert (submission.form.company_id, submission.form.pain_level, submission.form.tag_ids) == (
        "cmp_1",
        PainLevel.HIGH,
        ("tag_1",),
    )
    assert submission.form.notify_email  # the workspace's defaults for the rest
    assert submission.source is not None
    assert submission.source.author_is_external


def test_a_captured_message_waits_as_long_as_the_operator_set(outbox: Outbox, slack: FakeSlack) -> None:
    store = ChannelSettingsStore(outbox.database)
    store.apply([(CHANNEL, {"capture": "automatic"})], by="test")
    consumer = AutomaticCapture(
        outbox, store, ChannelSettingsCache(store), DEFAULTS, settle=timedelta(seconds=30)
    )
    before = datetime.now(UTC)
    consumer(message(slack), "T0ACME0001")
    (item,) = outbox.list_items()
    assert item.next_attempt_at >= before + timedelta(seconds=30)
    assert not outbox.claim("worker", limit=1, lease_seconds=10)  # not its turn yet


def test_edits_replies_and_channels_no_longer_automatic_add_nothing_and_a_deletion_is_remembered(
    outbox: Outbox, slack: FakeSlack
) -> None:
    consumer, store = capture(outbox)
    edit = message(
        slack,
        "message_changed",
        message={"type": "message", "user": "U0CUST0003", "text": "edited", "ts": "1733150100.000200"},
    )
    consumer(edit, "T0ACME0001")
    consumer(message(slack, "thread_reply_by_person"), "T0ACME0001")
    consumer(message(slack, channel="C0ELSEWHERE"), "T0ACME0001")
    consumer(message(slack, text="", blocks=[]), "T0ACME0001")
    assert outbox.list_items() == []
    consumer(message(slack, "message_deleted", deleted_ts="1733150100.000200", previous_message={}), None)
    assert store.was_deleted(CHANNEL, "1733150100.000200")
    deleted = DeletedInSlack(store)
    automatic = automatic_submission_at("1733150100.000200")
    assert deleted(automatic) == "its message was deleted in Slack before its turn"
    assert deleted(automatic.model_copy(update={"via_automatic": False})) is None


def automatic_submission_at(ts: str, author: str = "U0CUST0003") -> Submission:
    source = SourceMessage(
        workspace_team_id="T0ACME0001",
        channel_id=CHANNEL,
        ts=ts,
        thread_ts=ts,
        author_id=author,
        author_team_id="T0ACME0001",
        content={"text": "Exports fail again"},
    )
    return Submission(
        key=automatic_key(CHANNEL, ts),
        submitter_id=author,
        form=FeedbackForm(),
        source=source,
        submitted_at=datetime.now(UTC),
        via_automatic=True,
    )


def test_the_author_is_the_contact_when_delivery_composes(slack: FakeSlack) -> None:
    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    lookups = SlackLookups(web)
    composer = AutomaticComposer(SlackComposer(lookups), lookups)
    request = composer.compose(automatic_submission_at("1764300000.000100"))
    assert (str(request.contact_email), request.contact_name) == ("jane@customer.example", "Jane Doe")
    assert request.title == "Exports fail again"

    slack.web.users["U0CUST0003"]["profile"].pop("email")
    lookups = SlackLookups(web)
    composer = AutomaticComposer(SlackComposer(lookups), lookups)
    with pytest.raises(ValidationError) as refused:
        composer.compose(automatic_submission_at("1764300000.000200"))
    assert refused.value.errors()[0]["msg"] == NO_CONTACT


def test_channel_defaults_fill_what_the_form_has_not() -> None:
    form = FeedbackForm(company_id="cmp_chosen", tag_ids=("tag_a",))
    settings = ChannelSettings(
        channel=CHANNEL, company_id="cmp_1", pain_level=PainLevel.LOW, tag_ids=("tag_b", "tag_a")
    )
    assert with_channel_defaults(form, settings) == form.model_copy(
        update={"pain_level": PainLevel.LOW, "tag_ids": ("tag_a", "tag_b")}
    )
    assert with_channel_defaults(form, None) is form


# --- who hears what ------------------------------------------------------------------------------


class Channels:
    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings

    def for_channel(self, channel_id: str) -> ChannelSettings | None:
        return self.settings if channel_id == self.settings.channel else None

    def all(self) -> list[ChannelSettings]:
        return [self.settings]


def channels(confirm: str) -> Channels:
    return Channels(ChannelSettings.model_validate({"channel": CHANNEL, "confirm": confirm}))


def notifier(slack: FakeSlack, confirm: str) -> SlackNotifier:
    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    return SlackNotifier(
        SlackMessenger(web, SlackLookups(web)), bot_id=BOT_ID, channel_settings=channels(confirm)
    )


def request() -> CreateThread:
    return CreateThread(text="<p>x</p>", title="Exports fail again", contact_email="jane@customer.example")


def by_person(ts: str) -> Submission:
    return automatic_submission_at(ts).model_copy(
        update={"via_automatic": False, "submitter_id": "U0CSM0002"}
    )


def test_private_tells_the_submitter_by_dm_and_nobody_for_a_captured_message(slack: FakeSlack) -> None:
    private = notifier(slack, "private")
    landed = private.delivered(
        by_person("1764300000.000300"), request(), "https://productlane.test/feedback/t1"
    )
    assert landed is not None
    assert landed.channel == "D0CSM0002"
    assert (
        private.delivered(automatic_submission_at("1764300000.000400"), request(), "https://x.test/t2")
        is None
    )
    private.delayed(automatic_submission_at("1764300000.000400"))
    assert [call.params["channel"] for call in slack.web.calls("chat.postMessage")] == ["D0CSM0002"]
    assert not slack.web.calls("chat.postEphemeral")
    assert news_may_follow(channels("private"), by_person("1"), landed.as_json())
    assert not news_may_follow(channels("private"), by_person("1"), None)


def test_reaction_adds_a_check_mark_or_tells_the_submitter_when_it_cannot(slack: FakeSlack) -> None:
    reacting = notifier(slack, "reaction")
    assert reacting.delivered(by_person("1764300000.000500"), request(), "https://x.test/t3") is None
    assert slack.web.reactions[(CHANNEL, "1764300000.000500")] == ["white_check_mark"]
    assert not slack.web.calls("chat.postMessage")
    assert not news_may_follow(channels("reaction"), by_person("1764300000.000500"), None)

    slack.web.channels[CHANNEL]["is_archived"] = True  # Slack refuses the reaction
    landed = reacting.delivered(by_person("1764300000.000600"), request(), "https://x.test/t4")
    assert landed is not None
    assert landed.channel == "D0CSM0002"


def test_a_refusal_of_a_customers_captured_message_is_not_sent_to_the_customer(slack: FakeSlack) -> None:
    thread = notifier(slack, "thread")
    external = automatic_submission_at("1764300000.000700")
    external = external.model_copy(
        update={"source": external.source.model_copy(update={"author_team_id": "T0CUSTOMR1"})}  # type: ignore[union-attr]
    )
    thread.failed(external, "7", "the email is not valid")
    assert not slack.web.calls("conversations.open")
    thread.failed(automatic_submission_at("1764300000.000800"), "8", "the email is not valid")
    assert slack.web.calls("conversations.open")  # our own colleague hears it, with Edit and resend

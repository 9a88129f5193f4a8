"""The Home tab in Block Kit: every state in words a person understands, their text escaped, and
Slack's limits kept whatever is stored (long titles, many items, many channels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.channels.model import Capture, ChannelSettings, Confirm
from bot.floods import Scope
from bot.home.model import (
    AdminFacts,
    HeldGroup,
    HomeSubmission,
    Refused,
    Sent,
    ThreadStatus,
    Waiting,
    WaitReason,
)
from bot.home.render import HELD_SHOWN, duration, home_view, outsider_view, parse_held_value, unavailable_view
from bot.productlane.models import PainLevel
from bot.slack.ids import (
    EDIT_AND_RESEND_ACTION,
    HOME_DROP_HELD_ACTION,
    HOME_FILE_HELD_ACTION,
    HOME_NEW_FEEDBACK_ACTION,
)
from bot.updates.state import Link
from tests.fakes.slack_home import block_kit_problems

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def submission(
    item_id: int, state: Waiting | Sent | Refused, title: str = "Export times out"
) -> HomeSubmission:
    return HomeSubmission(item_id, title, "C0FEEDBACK", NOW - timedelta(minutes=item_id), state)


def shown(submissions: list[HomeSubmission], **kwargs: object) -> str:
    view = home_view(submissions, now=NOW, **kwargs)  # type: ignore[arg-type]
    view.validate_json()
    return json.dumps(view.to_dict()["blocks"], ensure_ascii=False)


def test_each_state_says_where_the_submission_stands() -> None:
    link = Link("n1", "i1", None, issue_name="CSV export v2")
    text = shown(
        [
            submission(1, Sent("https://pl.test/feedback/t1", ThreadStatus.DONE, (link,))),
            submission(2, Refused("Validation failed: title too long.", item_id=2)),
            submission(3, Waiting(WaitReason.QUEUED, ahead=119)),
            submission(4, Waiting(WaitReason.QUEUED)),
            submission(5, Waiting(WaitReason.UNREACHABLE, retry_at=NOW + timedelta(minutes=2))),
            submission(6, Waiting(WaitReason.PAUSED)),
            submission(7, Waiting(WaitReason.SENDING)),
            submission(8, Sent("https://pl.test/feedback/t8", ThreadStatus.OPEN, confirming=True)),
        ]
    )
    assert "<https://pl.test/feedback/t1|Export times out>" in text
    assert "Status in Productlane: Done · Linked to CSV export v2" in text
    assert "Refused by Productlane*: Validation failed: title too long." in text
    assert "queued behind 119 others (about 2 min: Productlane takes 60 a minute)" in text
    assert "next in line for Productlane" in text
    assert "Productlane isn't answering; it is tried again at <!date^" in text
    assert "paused until whoever runs the bot fixes its Productlane key" in text
    assert "being sent now" in text
    assert "the confirmation in Slack is on its way" in text
    assert "From <#C0FEEDBACK> · <!date^" in text


def test_the_queue_moves_at_the_bots_share_of_the_write_budget() -> None:
    queued = [submission(3, Waiting(WaitReason.QUEUED, ahead=119))]
    assert "(about 6 min: Productlane takes 20 a minute)" in shown(queued, writes_per_minute=20)
    assert "(about 12 s: Productlane takes 600 a minute)" in shown(queued, writes_per_minute=600)


def test_a_refused_submission_offers_edit_and_resend_and_the_home_a_new_feedback_button() -> None:
    view = home_view([submission(42, Refused("no", item_id=42))], now=NOW).to_dict()
    buttons = [block["accessory"] for block in view["blocks"] if "accessory" in block]
    assert [(b["action_id"], b.get("value")) for b in buttons] == [
        (HOME_NEW_FEEDBACK_ACTION, None),
        (EDIT_AND_RESEND_ACTION, "42"),
    ]


def test_what_people_wrote_is_text_never_markup() -> None:
    text = shown(
        [submission(1, Refused("<!channel> & <https://evil.example|click>", item_id=1), title="*bold* <@U1>")]
    )
    assert "<!channel>" not in text
    assert "<@U1>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
    link_label = shown([submission(1, Sent("https://pl.test/t", None), title="a|b>c")])
    assert "<https://pl.test/t|a¦b&gt;c>" in link_label


def test_twenty_long_submissions_and_a_thousand_channels_stay_within_block_kit_limits() -> None:
    long_title = "Ü" * 5000
    states: list[Waiting | Sent | Refused] = [
        Sent(
            "https://pl.test/feedback/" + "t" * 200,
            ThreadStatus.OPEN,
            tuple(Link(f"n{i}", f"i{i}", None, "x" * 600) for i in range(30)),
        ),
        Refused("why " * 600, item_id=1),
        Waiting(WaitReason.QUEUED, ahead=99_999),
    ]
    submissions = [submission(i, states[i % 3], long_title) for i in range(25)]
    channels = tuple(
        f"<#C{i:08d}> · capture: {Capture.AUTOMATIC.value} · confirm: {Confirm.REACTION.value}"
        for i in range(1000)
    )
    admin = AdminFacts(12_345, 67, 86_400 * 3, "x" * 5000, "polling every 60 s", channels)
    view = home_view(submissions, now=NOW, admin=admin, reaction="inbox_tray")
    view.validate_json()  # slack_sdk raises on any limit broken
    data = view.to_dict()
    assert len(data["blocks"]) <= 100
    assert block_kit_problems(data["blocks"]) == []
    assert sum(1 for b in data["blocks"] if b.get("block_id", "").startswith("item-")) == 20
    assert "…and 9" in json.dumps(data, ensure_ascii=False)  # …and 9xx more: the rest
    assert "more (`productlane-slack channels`)" in json.dumps(data)


def test_nothing_sent_yet_says_how_to_send() -> None:
    assert "react to a message with :inbox_tray:" in shown([], reaction="inbox_tray")
    assert "react to" not in shown([], reaction="")


def test_admins_see_delivery_health() -> None:
    settings = ChannelSettings(
        channel="C0AUTO",
        capture=Capture.AUTOMATIC,
        pain_level=PainLevel.HIGH,
        tag_ids=("a", "b"),
        replies=False,
    )
    from bot.home.render import channel_line

    admin = AdminFacts(3, 1, 125, None, "webhooks", (channel_line(settings),))
    text = shown([], admin=admin)
    assert "*Waiting*\\n3" in text
    assert "*Failed* (refused for their content)\\n1" in text
    assert "*Oldest waiting*\\n2 min" in text
    assert "*Delivery*\\nRunning" in text
    assert "<#C0AUTO> · capture: automatic · pain level: High · 2 tags · replies off" in text
    paused = shown([], admin=AdminFacts(3, 0, 0, "the key was revoked", "off", ()))
    assert ":warning: Paused: the key was revoked" in paused
    assert "None: every channel works as the bot's defaults say." in paused


def test_admins_see_follow_ups_productlane_refused() -> None:
    assert "Follow-ups refused" not in shown([], admin=AdminFacts(0, 0, 0, None, "webhooks", ()))
    admin = AdminFacts(
        0, 0, 0, None, "webhooks", (), 2, "thread th_1: Productlane refused them (422): <bad> content"
    )
    text = shown([], admin=admin)
    assert "*Follow-ups refused* (kept, not in Productlane)\\n2" in text
    assert "Latest: thread th_1: Productlane refused them (422): &lt;bad&gt; content" in text


def test_outsiders_and_a_database_that_is_away_get_one_line() -> None:
    for view in (outsider_view("Acme"), outsider_view(None), unavailable_view()):
        view.validate_json()
        assert len(view.blocks) == 1
    assert "the people of *Acme*" in json.dumps(outsider_view("Acme").to_dict())


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (0, 59, 60, 3599, 3600, 3660, 86_400, 200_000)] == [
        "0 s",
        "59 s",
        "1 min",
        "59 min",
        "1 h",
        "1 h 1 min",
        "1 day",
        "2 days",
    ]


def held_group(channel: str, scope: Scope, count: int) -> HeldGroup:
    reason = f"more than 20 {scope.noun} by one author in an hour"
    return HeldGroup(channel, scope, count, ("U0CUST0003", "U0CUST0004"), NOW - timedelta(minutes=5), reason)


def admin_facts(held: tuple[HeldGroup, ...], total: int) -> AdminFacts:
    return AdminFacts(
        waiting=0,
        failed=0,
        oldest_waiting_seconds=0,
        paused_reason=None,
        update_mode="webhooks",
        channels=(),
        held=held,
        held_total=total,
        retention_days=30,
    )


def test_admins_see_what_the_flood_limits_hold_with_file_and_drop_per_channel() -> None:
    groups = (held_group("C0ACME", Scope.AUTOMATIC, 12), held_group("C0ACME", Scope.FOLLOWUP, 1))
    view = home_view([], now=NOW, admin=admin_facts(groups, 13))
    view.validate_json()
    blocks = view.to_dict()["blocks"]
    text = json.dumps(blocks, ensure_ascii=False)
    assert "*Held by the flood limits*\\n13" in text
    assert "<#C0ACME>: *12 new threads* held, from <@U0CUST0003>, <@U0CUST0004>" in text
    assert "*1 follow-up* held" in text
    assert "older than 30 days (OUTBOX_RETENTION_DAYS) are deleted" in text
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (HOME_FILE_HELD_ACTION, "automatic:C0ACME"),
        (HOME_DROP_HELD_ACTION, "automatic:C0ACME"),
        (HOME_FILE_HELD_ACTION, "followup:C0ACME"),
        (HOME_DROP_HELD_ACTION, "followup:C0ACME"),
    ]
    assert "confirm" in buttons[1], "dropping asks first"
    assert parse_held_value(buttons[0]["value"]) == ("automatic", "C0ACME")
    assert parse_held_value("nonsense") is None


def test_nothing_held_shows_a_count_of_none_and_no_section() -> None:
    text = json.dumps(home_view([], now=NOW, admin=admin_facts((), 0)).to_dict()["blocks"])
    assert "*Held by the flood limits*\\n0" in text
    assert HOME_FILE_HELD_ACTION not in text


def test_many_held_channels_and_twenty_submissions_stay_within_slacks_limits() -> None:
    groups = tuple(held_group(f"C{n:08d}", Scope.AUTOMATIC, 100 + n) for n in range(HELD_SHOWN))
    items = [submission(n, Refused("x" * 600, item_id=n), title="t" * 300) for n in range(20)]
    view = home_view(items, now=NOW, admin=admin_facts(groups, 5000))
    view.validate_json()
    blocks = view.to_dict()["blocks"]
    assert len(blocks) <= 100
    assert not block_kit_problems(blocks)
    assert "more held in other channels" in json.dumps(blocks)

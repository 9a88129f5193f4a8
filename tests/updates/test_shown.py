"""What the updates say where they go, decided when they are sent: in a channel shared with another
organization now — or one Slack would not describe — the confirmation's edit and the "shipped" post
name nothing internal, and a team's reply goes there only when Productlane said it went to the
customer. In a channel known to be internal nothing changes."""

from __future__ import annotations

import json

from bot.slack.lookups import Audience
from bot.slack.replies import Confirmation
from bot.updates.events import MessageSent, WebhookEvent, change_of, to_customer
from bot.updates.records import REPLY, REPLY_UNSURE, SlackSide, StoredEffect
from bot.updates.render import confirmation_with_status, shipped_text
from bot.updates.shown import Withheld, edit_as_shown, post_as_shown
from bot.updates.state import Link, Status

CONFIRMATION = Confirmation(
    thread_url="https://pl.test/t/1",
    title="CSV export stalls",
    pain_label="High",
    contact="Jane <jane@customer.example>",
    submitter_id="U0CSM0002",
    triage=("Company: Customer Co", "Tags: enterprise"),
    linked="CSV export stalls at 99%",
)
LINK = Link(
    need_id="n1", issue_id="is_2", project_id=None, issue_name="Secret roadmap item", project_name=None
)
SIDE = SlackSide(
    thread_id="th_1",
    channel_id="C0FEEDBACK",
    thread_ts="1.2",
    reply_channel_id="C0FEEDBACK",
    reply_ts="1.3",
    is_slack_connect=False,
    confirmation=CONFIRMATION,
    status=Status.OPEN,
    links=(LINK,),
)


def effect(kind: str, key: str, text: str) -> StoredEffect:
    return StoredEffect(
        id=1, effect_key=key, thread_id="th_1", kind=kind, text=text, generation=0, attempts=0
    )


def shown(audience: Audience) -> str:
    reply = confirmation_with_status(*edit_as_shown(SIDE, audience))
    return json.dumps([block.to_dict() for block in reply.blocks], ensure_ascii=False)


def test_the_confirmations_edit_in_a_channel_not_known_to_be_internal_names_nothing_internal() -> None:
    inside = shown(Audience.INTERNAL)
    for secret in ("Customer Co", "jane@customer.example", "Secret roadmap item"):
        assert secret in inside
    # Shared, or Slack did not say: the same redacted form, which is posted (it reveals nothing).
    for audience in (Audience.SHARED, Audience.UNKNOWN):
        outside = shown(audience)
        for secret in ("Customer Co", "enterprise", "jane@customer.example", "Secret roadmap item"):
            assert secret not in outside
        assert "Status in Productlane: Open" in outside


def test_shipped_names_the_issue_only_inside_and_done_is_the_same_everywhere() -> None:
    shipped = effect("post", "shipped:th_1", shipped_text("Secret roadmap item", is_slack_connect=False))
    assert post_as_shown(shipped, Audience.INTERNAL) == "🚀 Shipped: Secret roadmap item"
    assert post_as_shown(shipped, Audience.SHARED) == "🚀 Shipped"
    assert post_as_shown(shipped, Audience.UNKNOWN) == "🚀 Shipped"
    done = effect("post", "done:th_1", "✅ Marked done in Productlane")
    assert post_as_shown(done, Audience.SHARED) == "✅ Marked done in Productlane"
    assert post_as_shown(done, Audience.UNKNOWN) == "✅ Marked done in Productlane"


def test_a_reply_not_said_to_have_gone_to_the_customer_stays_out_of_a_shared_channel() -> None:
    unsure = effect(REPLY_UNSURE, "reply:m1", "*Anna* (via Productlane): hi")
    sent = effect(REPLY, "reply:m2", "*Anna* (via Productlane): hi")
    assert post_as_shown(unsure, Audience.SHARED) is Withheld.DROP
    assert post_as_shown(unsure, Audience.INTERNAL) == "*Anna* (via Productlane): hi"
    assert post_as_shown(sent, Audience.SHARED) == "*Anna* (via Productlane): hi"


def test_a_reply_not_said_to_have_gone_to_the_customer_waits_where_slack_did_not_say() -> None:
    unsure = effect(REPLY_UNSURE, "reply:m1", "*Anna* (via Productlane): hi")
    assert post_as_shown(unsure, Audience.UNKNOWN) is Withheld.WAIT
    sent = effect(REPLY, "reply:m2", "*Anna* (via Productlane): hi")
    assert post_as_shown(sent, Audience.UNKNOWN) == "*Anna* (via Productlane): hi"


def test_only_an_explicit_word_says_a_message_went_to_the_customer() -> None:
    assert to_customer({"direction": "outbound"})
    assert to_customer({"visibility": "Public"})
    assert to_customer({"sent_to_customer": True})
    assert not to_customer({})
    assert not to_customer({"internal": False})  # not internal is not "sent to them"
    assert not to_customer({"direction": "inbound", "sent_to_customer": "yes"})

    def sent(data: dict[str, object]) -> MessageSent:
        base = {"id": "m1", "thread_id": "th_1", "content": "<p>hi</p>"}
        change = change_of(WebhookEvent(id="evt_1", type="message.sent", data=base | data))
        assert isinstance(change, MessageSent)
        return change

    assert sent({"direction": "outbound"}).to_customer is True
    assert sent({}).to_customer is False
    # An internal note is never "to the customer", whatever else it says.
    assert sent({"direction": "outbound", "internal": True}).to_customer is False

"""The follow-ups' tables: one row per reply whatever Slack repeats, deletions and edits before and
after sending, batches in Slack's order under one lease at a time — SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.conversation.store import FollowedThread, FollowUpStore, ThreadWork, ts_micros
from tests.updates.conftest import Clock

pytestmark = pytest.mark.timeout(60)

CHANNEL, PARENT = "C0FEEDBACK", "1700000000.000100"


def follow(store: FollowUpStore, *, days: float = 30, channel: str = CHANNEL, parent: str = PARENT) -> None:
    now = store.now()
    store.follow(FollowedThread(channel, parent, "th_1", "V-key", now, now + timedelta(days=days)))


def words(text: str, **more: Any) -> dict[str, Any]:
    return {"text": text, "user": "U0CUST0003", **more}


def add(store: FollowUpStore, ts: str, text: str = "hi", parent: str = PARENT) -> bool:
    return store.add_reply(CHANNEL, parent, ts, "U0CUST0003", words(text))


def statuses(store: FollowUpStore) -> dict[str, str]:
    return {reply.key: reply.status for reply in store.replies(CHANNEL, PARENT)}


def test_a_slack_ts_is_ordered_exactly() -> None:
    assert ts_micros("1700000000.000100") == 1_700_000_000_000_100
    assert ts_micros("1700000000.1") < ts_micros("1700000000.000100") + 200_000
    assert ts_micros("nonsense") == 0


def test_a_reply_is_kept_once_and_only_in_a_followed_thread(store: FollowUpStore, clock: Clock) -> None:
    assert not add(store, "1700000001.000100")  # not followed (yet)
    follow(store, days=1)
    assert add(store, "1700000002.000100")
    assert not add(store, "1700000002.000100")  # Slack's retry, or the other replica
    assert store.followed_now() == [(CHANNEL, PARENT)]
    clock.advance(86_401)  # FOLLOWUP_DAYS later
    assert store.followed_now() == []
    assert not add(store, "1700000003.000100")
    assert list(statuses(store)) == [f"{CHANNEL}:1700000002.000100"]


def test_following_again_keeps_the_first_window(store: FollowUpStore, clock: Clock) -> None:
    follow(store, days=1)
    clock.advance(3600)
    follow(store, days=1)  # "Edit details" confirms it again
    clock.advance(86_400 - 3600 + 1)
    assert store.followed_now() == []


def test_a_reply_deleted_before_its_batch_went_out_is_never_sent(store: FollowUpStore) -> None:
    follow(store)
    add(store, "1700000001.000100")
    assert "never sent" in store.delete_reply(CHANNEL, PARENT, "1700000001.000100")
    # A deletion that arrives before the reply: the reply, arriving late, stays out.
    store.delete_reply(CHANNEL, PARENT, "1700000002.000100")
    assert not add(store, "1700000002.000100")
    assert set(statuses(store).values()) == {"deleted"}
    assert not store.waiting()


def test_edits_before_and_after_sending(store: FollowUpStore, clock: Clock) -> None:
    follow(store)
    add(store, "1700000001.000100", "teh bug")
    assert "before it was sent" in store.edit_reply(
        CHANNEL, PARENT, "1700000001.000100", words("the bug"), "9.1"
    )
    clock.advance(10)
    work = store.claim_thread("me", 30, gather_seconds=5)
    assert work is not None
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    assert batch.replies[0].message["text"] == "the bug"
    assert store.mark_attempt(work, "me", batch, 30)
    store.batch_sent(work, "me", batch, comment_id="cm_1", next_write_at=store.now())
    # After sending: the same words change nothing; new words are a follow-up of their own.
    assert "no change" in store.edit_reply(
        CHANNEL, PARENT, "1700000001.000100", words("the bug"), "1700000060.000100"
    )
    assert "sent again" in store.edit_reply(
        CHANNEL, PARENT, "1700000001.000100", words("the bugs"), "1700000070.000100"
    )
    edited = store.replies(CHANNEL, PARENT)[-1]
    assert (edited.edited, edited.status, edited.message["text"]) == (True, "pending", "the bugs")
    # A deletion after sending leaves what was sent, and stops the edit still waiting.
    store.delete_reply(CHANNEL, PARENT, "1700000001.000100")
    assert [reply.status for reply in store.replies(CHANNEL, PARENT)] == ["sent", "deleted"]
    assert store.is_bot_comment("cm_1")
    assert not store.is_bot_comment("cm_2")


def test_a_thread_is_due_after_the_gather_window_and_10_s_after_its_last_write(
    store: FollowUpStore, clock: Clock
) -> None:
    follow(store)
    add(store, "1700000001.000100")
    assert store.claim_thread("me", 30, gather_seconds=5) is None  # wait for more to come
    clock.advance(5)
    work = store.claim_thread("me", 30, gather_seconds=5)
    assert work is not None
    assert store.claim_thread("other", 30, gather_seconds=5) is None  # one sender per thread
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    assert store.mark_attempt(work, "me", batch, 30)
    store.batch_sent(work, "me", batch, comment_id="cm_1", next_write_at=store.now() + timedelta(seconds=10))
    add(store, "1700000002.000100")
    clock.advance(6)
    assert store.claim_thread("me", 30, gather_seconds=5) is None  # 10 s since the last write
    clock.advance(4)
    assert store.claim_thread("me", 30, gather_seconds=5) is not None


def test_the_next_due_time_is_when_the_first_thread_may_be_claimed(
    store: FollowUpStore, clock: Clock
) -> None:
    """What the sender waits for between passes: the gather window, a thread's lease, the spacing
    after its last write, whichever ends last for that thread, and the earliest of all threads."""
    other = "1700000099.000100"
    assert store.next_due_at(5) is None  # nothing waits
    follow(store)
    follow(store, parent=other)
    start = store.now()
    add(store, "1700000001.000100")
    assert store.next_due_at(5) == start + timedelta(seconds=5)  # gathered
    clock.advance(5)
    work = store.claim_thread("me", 30, gather_seconds=5)
    assert work is not None
    assert store.next_due_at(5) == store.now() + timedelta(seconds=30)  # its lease is held
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    assert store.mark_attempt(work, "me", batch, 30)
    spaced = store.now() + timedelta(seconds=10)
    store.batch_sent(work, "me", batch, comment_id="cm_1", next_write_at=spaced)
    assert store.next_due_at(5) is None  # sent: nothing waits
    add(store, "1700000002.000100")
    assert store.next_due_at(5) == spaced  # gathered sooner than the spacing allows a write
    clock.advance(1)
    add(store, "1700000100.000100", parent=other)
    assert store.next_due_at(5) == store.now() + timedelta(seconds=5)  # the other thread first
    clock.advance(5)
    assert store.claim_thread("me", 30, gather_seconds=5) is not None


def test_a_batch_is_in_slacks_order_and_a_dead_senders_batch_is_taken_over(
    store: FollowUpStore, clock: Clock
) -> None:
    follow(store)
    for ts in ("1700000003.000100", "1700000001.000100", "1700000002.000100"):
        add(store, ts, f"at {ts}")
    clock.advance(5)
    work = store.claim_thread("dead", 2, gather_seconds=5)
    assert work is not None
    batch = store.open_batch(work, "dead", "comments", 20)
    assert batch is not None
    assert [reply.ts for reply in batch.replies] == [
        "1700000001.000100",
        "1700000002.000100",
        "1700000003.000100",
    ]
    assert batch.marker == "/p1700000001000100"
    assert store.mark_attempt(work, "dead", batch, 2)
    # Its lease runs out: another sender takes the thread, and the batch, marked attempted.
    clock.advance(3)
    taken = store.claim_thread("alive", 30, gather_seconds=5)
    assert taken is not None
    again = store.open_batch(taken, "alive", "comments", 20)
    assert again is not None
    assert (again.id, again.attempted) == (batch.id, True)
    assert not store.batch_sent(work, "nobody", batch, comment_id="cm_x", next_write_at=store.now())
    assert store.batch_sent(taken, "alive", again, comment_id="cm_1", next_write_at=store.now())
    assert set(statuses(store).values()) == {"sent"}


def test_a_batch_changed_after_composing_is_not_sent_as_composed(store: FollowUpStore, clock: Clock) -> None:
    follow(store)
    add(store, "1700000001.000100", "one")
    add(store, "1700000002.000100", "two")
    clock.advance(5)
    work = store.claim_thread("me", 30, gather_seconds=5)
    assert work is not None
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    store.delete_reply(CHANNEL, PARENT, "1700000001.000100")  # while it was being composed
    assert not store.mark_attempt(work, "me", batch, 30)
    fresh = store.open_batch(work, "me", "comments", 20)
    assert fresh is not None
    assert [reply.message["text"] for reply in fresh.replies] == ["two"]
    assert store.mark_attempt(work, "me", fresh, 30)
    # Once its write began, a deletion no longer stops it.
    assert "after it was sent" in store.delete_reply(CHANNEL, PARENT, "1700000002.000100")


def test_a_gone_thread_drops_its_follow_ups_and_is_followed_no_more(
    store: FollowUpStore, clock: Clock
) -> None:
    follow(store)
    add(store, "1700000001.000100")
    clock.advance(5)
    work = store.claim_thread("me", 30, gather_seconds=5)
    assert work is not None
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    store.drop_batch(work, "me", batch, "the thread no longer exists in Productlane", gone=True)
    assert set(statuses(store).values()) == {"dropped"}
    assert store.followed_now() == []
    assert not add(store, "1700000002.000100")


def test_the_route_is_one_threads_alone(store: FollowUpStore) -> None:
    follow(store)
    follow(store, parent="1700000000.000200")
    one = ThreadWork(CHANNEL, PARENT, "th_1", "V-key", None)
    assert store.thread_route(CHANNEL, PARENT) is None
    store.set_thread_route(one, "patch", "404 not_found", store.now() + timedelta(hours=1))
    stored = store.thread_route(CHANNEL, PARENT)
    assert stored is not None
    assert (stored.route, stored.reason) == ("patch", "404 not_found")
    assert store.thread_route(CHANNEL, "1700000000.000200") is None, "the other thread is untouched"
    assert [route.reason for route in store.routes()] == ["404 not_found"]
    store.set_thread_route(one, "comments", None, None)
    assert store.thread_route(CHANNEL, PARENT) is None
    assert store.routes() == []


def test_a_refused_batch_is_kept_for_the_admins_and_outlives_a_week(
    store: FollowUpStore, clock: Clock
) -> None:
    follow(store, days=1)
    add(store, "1700000001.000100", "the words Productlane refused")
    clock.advance(10)
    work = store.claim_thread("me", 60, 5)
    assert work is not None
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    store.drop_batch(work, "me", batch, "Productlane refused them (422): no", refused=True)
    refused = store.refused()
    assert (refused.count, refused.latest_reason, refused.latest_thread_id) == (
        1,
        "Productlane refused them (422): no",
        "th_1",
    )
    assert [reply.message["text"] for reply in store.replies(CHANNEL, PARENT)] == [
        "the words Productlane refused"
    ]
    clock.advance(9 * 86_400)
    store.prune(copies_before=store.now())
    assert store.refused().count == 1
    clock.advance(30 * 86_400)
    store.prune(copies_before=store.now())
    assert store.refused().count == 0


def test_prune_forgets_what_is_settled_and_old(store: FollowUpStore, clock: Clock) -> None:
    follow(store, days=1)
    add(store, "1700000001.000100")
    store.delete_reply(CHANNEL, PARENT, "1700000001.000100")
    clock.advance(9 * 86_400)
    assert store.prune(copies_before=store.now()) == 2
    assert store.replies(CHANNEL, PARENT) == []


def test_no_follow_up_outlives_the_outbox_retention(store: FollowUpStore, clock: Clock) -> None:
    follow(store, days=30)
    add(store, "1700000001.000100", "the words Productlane refused")
    clock.advance(10)
    work = store.claim_thread("me", 60, 5)
    assert work is not None
    batch = store.open_batch(work, "me", "comments", 20)
    assert batch is not None
    store.drop_batch(work, "me", batch, "Productlane refused them (422): no", refused=True)
    add(store, "1700000002.000100")
    store.delete_reply(CHANNEL, PARENT, "1700000002.000100")
    clock.advance(2 * 86_400)
    store.prune(store.now(), retention=timedelta(days=3))
    assert len(store.replies(CHANNEL, PARENT)) == 2  # within the retention: kept
    clock.advance(2 * 86_400)
    store.prune(store.now(), retention=timedelta(days=3))
    # The deleted one is gone; the refused one keeps only its place (its thread is still followed,
    # and its body must go on leaving it out), not its words.
    (left,) = store.replies(CHANNEL, PARENT)
    assert left.ts == "1700000001.000100"
    assert "the words Productlane refused" not in str(left.message)


def test_a_held_reply_filed_after_its_window_closed_says_why_and_a_kept_one_is_done(
    store: FollowUpStore, clock: Clock
) -> None:
    """An admin's File on a held reply: kept while the thread is followed; once its FOLLOWUP_DAYS
    window closed, not kept, and the reason comes back (the reply stays held, never deleted
    unsent); one kept already (Slack's retry got there first) is done."""
    from bot.conversation.followed import FollowedThreads
    from bot.conversation.intake import FollowUpIntake
    from bot.floods import HeldItem, Scope
    from bot.message_events import Interest
    from tests.conversation.test_followed import Settings

    follow(store, days=1)
    kept: list[int] = []
    followed = FollowedThreads(store, Interest(), Settings(), 1)
    intake = FollowUpIntake(store, followed, lambda: kept.append(1))

    def held(ts: str) -> HeldItem:
        payload = {"thread_ts": PARENT, "user": "U1", "message": words(ts, ts=ts, user="U1")}
        return HeldItem(1, Scope.FOLLOWUP, CHANNEL, ts, "U1", payload, store.now())

    assert intake.file_held(held("1700000001.000100")) is None
    assert intake.file_held(held("1700000001.000100")) is None, "kept already: done"
    clock.advance(2 * 86400)
    why = intake.file_held(held("1700000002.000100"))
    assert why is not None
    assert "no longer followed" in why
    assert len(why) <= 200
    assert kept == [1]
    assert not store.has_reply(CHANNEL, "1700000002.000100")


def test_refused_replies_are_withheld_from_a_rendered_body_while_the_thread_is_followed(
    store: FollowUpStore, clock: Clock
) -> None:
    follow(store, days=60)
    add(store, "1700000001.000100", "the words Productlane refused")
    add(store, "1700000002.000100", "fine")
    clock.advance(10)
    work = store.claim_thread("me", 60, 5)
    assert work is not None
    batch = store.open_batch(work, "me", "comments", 1)
    assert batch is not None
    store.drop_batch(work, "me", batch, "Productlane refused them (422): no", refused=True)
    assert store.withheld(CHANNEL, PARENT) == {"1700000001.000100"}
    # Past KEEP_REFUSED, but the thread is still followed: still kept, still left out.
    clock.advance(40 * 86_400)
    store.prune(copies_before=store.now())
    assert store.withheld(CHANNEL, PARENT) == {"1700000001.000100"}
    clock.advance(30 * 86_400)
    store.prune(copies_before=store.now())
    assert store.withheld(CHANNEL, PARENT) == frozenset()

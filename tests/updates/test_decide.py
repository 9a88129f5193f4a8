"""What Slack is told when a thread changes in Productlane: the pure decisions and their texts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.slack.replies import Confirmation
from bot.updates.decide import EditConfirmation, PostMilestone, Switches, decide
from bot.updates.events import (
    EventFormatError,
    LinkAdded,
    LinkRemoved,
    NeedLink,
    TargetCompleted,
    ThreadRemoved,
    ThreadSnapshot,
    change_of,
    parse_event,
)
from bot.updates.render import DONE_TEXT, confirmation_with_status, linked_line, shipped_text
from bot.updates.state import Link, Status, ThreadState

FIXTURES = Path(__file__).parent.parent / "fixtures" / "productlane"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ON = Switches()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def thread(**changes: object) -> ThreadState:
    state = ThreadState(
        thread_id="th_1",
        status=Status.OPEN,
        status_as_of=T0,
        links=(),
        done_reached=False,
        shipped_reached=False,
        is_slack_connect=False,
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def snapshot(
    status: str | None, minutes: float | None, needs: tuple[NeedLink, ...] | None = None
) -> ThreadSnapshot:
    return ThreadSnapshot("th_1", status, None if minutes is None else at(minutes), needs)


def need(
    need_id: str = "cn_1", issue: str | None = "is_1", project: str | None = None, name: str | None = None
) -> NeedLink:
    return NeedLink(need_id, "th_1", issue, project, name if issue else None, name if not issue else None)


# --- status ----------------------------------------------------------------------------------


def test_done_edits_the_confirmation_and_posts_the_done_reply_once() -> None:
    first = decide(thread(), snapshot("done", 1), ON)
    assert first.state.status is Status.DONE
    assert first.state.done_reached
    assert first.effects == (EditConfirmation("th_1"), PostMilestone("th_1", "done", DONE_TEXT))

    again = decide(first.state, snapshot("done", 2), ON)
    assert again.effects == ()  # nothing the confirmation shows changed, and done was announced


def test_done_reopened_and_done_again_is_announced_once() -> None:
    done = decide(thread(), snapshot("done", 1), ON).state
    reopened = decide(done, snapshot("open", 2), ON)
    assert reopened.effects == (EditConfirmation("th_1"),)
    done_again = decide(reopened.state, snapshot("done", 3), ON)
    assert done_again.effects == (EditConfirmation("th_1"),)


def test_snoozed_changes_only_the_status_line() -> None:
    decision = decide(thread(), snapshot("snoozed", 1), ON)
    assert decision.state.status is Status.SNOOZED
    assert decision.effects == (EditConfirmation("th_1"),)


def test_an_older_snapshot_never_overwrites_a_newer_status() -> None:
    newer = decide(thread(), snapshot("done", 5), ON).state
    older = decide(newer, snapshot("open", 3), ON)
    assert older.state == newer
    assert older.effects == ()
    assert "older" in older.note


def test_the_same_snapshot_twice_changes_nothing() -> None:
    once = decide(thread(), snapshot("snoozed", 1), ON).state
    assert decide(once, snapshot("snoozed", 1), ON).state == once


def test_a_snapshot_without_a_time_is_applied() -> None:
    assert decide(thread(), snapshot("done", None), ON).state.status is Status.DONE


def test_an_unknown_status_value_keeps_the_status_but_moves_the_time() -> None:
    decision = decide(thread(), snapshot(None, 1), ON)
    assert decision.state.status is Status.OPEN
    assert decision.state.status_as_of == at(1)
    assert decision.effects == ()


def test_switched_off_posts_still_count_as_reached() -> None:
    quiet = Switches(edit_confirmation=False, post_done=False, post_shipped=False)
    decision = decide(thread(), snapshot("done", 1), quiet)
    assert decision.effects == ()
    assert decision.state.done_reached  # turning posts on later never announces this old "done"


def test_edits_off_still_posts_the_milestone() -> None:
    decision = decide(thread(), snapshot("done", 1), Switches(edit_confirmation=False))
    assert decision.effects == (PostMilestone("th_1", "done", DONE_TEXT),)


def test_removed_is_final() -> None:
    removed = decide(thread(), ThreadRemoved("th_1", at(1)), ON)
    assert removed.state.status is Status.REMOVED
    assert removed.effects == (EditConfirmation("th_1"),)
    later = decide(removed.state, snapshot("done", 9), ON)
    assert later.state == removed.state
    assert later.effects == ()


# --- links and shipped -----------------------------------------------------------------------


def test_a_link_shows_on_the_confirmation() -> None:
    decision = decide(thread(), LinkAdded(need(name="CSV export v2")), ON)
    assert decision.effects == (EditConfirmation("th_1"),)
    assert linked_line(decision.state.links, False) == "Linked to CSV export v2"


def test_a_link_in_slack_connect_shows_nothing_so_no_edit() -> None:
    decision = decide(thread(is_slack_connect=True), LinkAdded(need(name="Secret roadmap item")), ON)
    assert len(decision.state.links) == 1
    assert decision.effects == ()


def test_the_same_link_twice_is_one_link_and_may_bring_its_name() -> None:
    unnamed = decide(thread(), LinkAdded(need()), ON).state
    named = decide(unnamed, LinkAdded(need(name="CSV export v2")), ON)
    assert len(named.state.links) == 1
    assert named.state.links[0].name == "CSV export v2"
    assert named.effects == (EditConfirmation("th_1"),)


def test_a_link_removed_before_it_was_seen_stays_removed() -> None:
    tombstone = decide(thread(), LinkRemoved(need()), ON).state
    assert tombstone.links[0].removed
    late = decide(tombstone, LinkAdded(need(name="CSV export v2")), ON)
    assert late.state == tombstone
    assert late.effects == ()


def test_unlinking_removes_the_line() -> None:
    linked = decide(thread(), LinkAdded(need(name="CSV export v2")), ON).state
    unlinked = decide(linked, LinkRemoved(need()), ON)
    assert unlinked.effects == (EditConfirmation("th_1"),)
    assert linked_line(unlinked.state.links, False) is None


def test_a_completed_linked_issue_is_shipped_once() -> None:
    linked = decide(thread(), LinkAdded(need(name="CSV export v2")), ON).state
    shipped = decide(linked, TargetCompleted("issue", "is_1", "CSV export v2"), ON)
    assert shipped.state.shipped_reached
    assert shipped.effects == (
        EditConfirmation("th_1"),
        PostMilestone("th_1", "shipped", "🚀 Shipped: CSV export v2"),
    )
    assert linked_line(shipped.state.links, False) == "Linked to CSV export v2 (shipped)"
    again = decide(shipped.state, TargetCompleted("issue", "is_1", "CSV export v2"), ON)
    assert again.effects == ()


def test_a_second_linked_project_completing_posts_no_second_shipped() -> None:
    state = decide(thread(), LinkAdded(need("cn_1", name="Issue A")), ON).state
    state = decide(state, LinkAdded(need("cn_2", issue=None, project="pr_1", name="Project B")), ON).state
    state = decide(state, TargetCompleted("issue", "is_1", None), ON).state
    last = decide(state, TargetCompleted("project", "pr_1", "Project B"), ON)
    assert [e for e in last.effects if isinstance(e, PostMilestone)] == []


def test_the_shipped_name_comes_from_the_event_when_the_link_had_none() -> None:
    linked = decide(thread(), LinkAdded(need()), ON).state
    shipped = decide(linked, TargetCompleted("issue", "is_1", "From the snapshot"), ON)
    assert PostMilestone("th_1", "shipped", "🚀 Shipped: From the snapshot") in shipped.effects


def test_shipped_without_any_name_says_shipped() -> None:
    linked = decide(thread(), LinkAdded(need()), ON).state
    shipped = decide(linked, TargetCompleted("issue", "is_1", None), ON)
    assert PostMilestone("th_1", "shipped", "🚀 Shipped") in shipped.effects


def test_slack_connect_hears_shipped_without_the_name() -> None:
    linked = decide(thread(is_slack_connect=True), LinkAdded(need(name="Internal codename")), ON).state
    shipped = decide(linked, TargetCompleted("issue", "is_1", "Internal codename"), ON)
    assert shipped.effects == (PostMilestone("th_1", "shipped", "🚀 Shipped"),)


def test_completion_of_something_not_linked_changes_nothing() -> None:
    linked = decide(thread(), LinkAdded(need()), ON).state
    for change in (TargetCompleted("issue", "is_other", "X"), TargetCompleted("project", "is_1", "X")):
        decision = decide(linked, change, ON)
        assert decision.state == linked
        assert decision.effects == ()


def test_a_removed_link_does_not_ship() -> None:
    state = decide(thread(), LinkAdded(need(name="A")), ON).state
    state = decide(state, LinkRemoved(need()), ON).state
    assert decide(state, TargetCompleted("issue", "is_1", "A"), ON).effects == ()


def test_snapshot_links_are_added_not_removed() -> None:
    state = decide(thread(), snapshot("open", 1, (need("cn_1", name="A"),)), ON)
    assert [link.need_id for link in state.state.links] == ["cn_1"]
    assert state.effects == (EditConfirmation("th_1"),)
    later = decide(state.state, snapshot("open", 2, ()), ON)
    assert [link.need_id for link in later.state.links] == ["cn_1"]


# --- rendering -------------------------------------------------------------------------------

CONFIRMATION = Confirmation(
    thread_url="https://productlane.test/feedback/th_1",
    title="Export to CSV times out",
    pain_label="High",
    contact=None,
    submitter_id="U0CSM0002",
)


def last_block_text(status: Status, links: tuple[Link, ...], slack_connect: bool) -> str:
    reply = confirmation_with_status(CONFIRMATION, status, links, slack_connect)
    return str(reply.blocks_json()[-1]["elements"][0]["text"])


def test_the_confirmation_keeps_its_content_and_gains_a_status_line() -> None:
    reply = confirmation_with_status(CONFIRMATION, Status.DONE, (), False)
    blocks = reply.blocks_json()
    assert "Export to CSV times out" in blocks[0]["text"]["text"]
    assert last_block_text(Status.DONE, (), False) == "Status in Productlane: Done"
    assert last_block_text(Status.SNOOZED, (), False) == "Status in Productlane: Snoozed"
    assert last_block_text(Status.OPEN, (), False) == "Status in Productlane: Open"
    assert last_block_text(Status.REMOVED, (), False) == "Removed from Productlane"


def test_linked_names_are_escaped_and_hidden_in_slack_connect() -> None:
    links = (Link("cn_1", "is_1", None, issue_name="<!channel> & co"), Link("cn_2", None, "pr_1"))
    line = last_block_text(Status.OPEN, links, False)
    assert line == "Status in Productlane: Open · Linked to &lt;!channel&gt; &amp; co, a project"
    assert last_block_text(Status.OPEN, links, True) == "Status in Productlane: Open"


def test_shipped_text() -> None:
    assert shipped_text("Dark mode", False) == "🚀 Shipped: Dark mode"
    assert shipped_text("Dark mode", True) == "🚀 Shipped"
    assert shipped_text(None, False) == "🚀 Shipped"
    assert shipped_text("a <b>", False) == "🚀 Shipped: a &lt;b&gt;"


# --- reading events --------------------------------------------------------------------------


def test_the_documented_event_reads_as_a_done_snapshot() -> None:
    fixture = json.loads((FIXTURES / "webhook_thread_status_changed.json").read_text())
    event = parse_event(fixture["raw_body"].encode())
    assert event.id == "evt_3727ca7b4f0fff3c"
    assert change_of(event) == ThreadSnapshot(
        "th_0123456789abcdef", "done", datetime(2026, 11, 28, 10, 23, 45, tzinfo=UTC), None
    )


def body(event_type: str, data: object, **extra: object) -> bytes:
    return json.dumps(
        {"id": "evt_1", "type": event_type, "created_at": "2026-11-28T10:00:00Z", "data": data, **extra}
    ).encode()


def test_customer_needs_and_completions() -> None:
    created = change_of(
        parse_event(body("customer_need.created", {"id": "cn_1", "thread_id": "th_1", "issue_id": "is_1"}))
    )
    assert created == LinkAdded(NeedLink("cn_1", "th_1", "is_1", None))
    nested = change_of(
        parse_event(
            body(
                "customer_need.deleted",
                {"id": "cn_2", "thread_id": "th_1", "project": {"id": "pr_1", "name": "P"}},
            )
        )
    )
    assert nested == LinkRemoved(NeedLink("cn_2", "th_1", None, "pr_1", None, "P"))
    assert change_of(
        parse_event(body("issue.completed", {"id": "is_1", "title": "Dark mode"}))
    ) == TargetCompleted("issue", "is_1", "Dark mode")
    assert change_of(parse_event(body("project.completed", {"id": "pr_1"}))) == TargetCompleted(
        "project", "pr_1", None
    )


def test_a_deleted_thread_and_snapshot_links() -> None:
    assert change_of(parse_event(body("thread.deleted", {"id": "th_1"}))) == ThreadRemoved(
        "th_1", datetime(2026, 11, 28, 10, tzinfo=UTC)
    )
    data = {
        "id": "th_1",
        "status": "open",
        "customer_needs": [{"id": "cn_1", "issue_id": "is_1"}, {"junk": 1}],
    }
    change = change_of(parse_event(body("thread.updated", data)))
    assert isinstance(change, ThreadSnapshot)
    assert change.needs == (NeedLink("cn_1", "th_1", "is_1", None),)
    assert change.as_of == datetime(2026, 11, 28, 10, tzinfo=UTC)  # no updated_at: the event's time


@pytest.mark.parametrize(
    "payload",
    [
        body("thread.updated", {"status": "done"}),  # no thread id
        body("customer_need.created", {"id": "cn_1", "thread_id": "th_1"}),  # linked to nothing
        body("issue.completed", None),
        body("comment.created", {"id": "c_1"}),
    ],
)
def test_unusable_or_unused_events_change_nothing(payload: bytes) -> None:
    assert change_of(parse_event(payload)) is None


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"id": "evt_1"}', b"\xff"])
def test_what_is_not_an_event(raw: bytes) -> None:
    with pytest.raises(EventFormatError):
        parse_event(raw)


def test_the_body_id_is_the_events_id() -> None:
    assert parse_event(b'{"id": "evt_body", "type": "thread.updated", "data": {}}').id == "evt_body"


def test_a_body_without_an_id_is_keyed_by_the_hash_of_its_signed_bytes() -> None:
    raw = b'{"type": "thread.updated", "data": {"id": "th_1"}}'
    other = b'{"type": "thread.updated", "data": {"id": "th_2"}}'
    assert parse_event(raw).id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse_event(raw).id == parse_event(raw).id
    assert parse_event(raw).id != parse_event(other).id

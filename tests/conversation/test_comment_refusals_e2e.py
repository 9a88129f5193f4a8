"""End to end, what a refused comment changes and what it does not: a 400/422 refuses that batch
alone (kept for the admins; no thread switches to re-rendering its body, no body is overwritten),
and the fallback never overwrites a body the team changed in Productlane — nor loses its way on a
thread filed before the bot kept its body's fingerprint."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.conversation.sender import PREDATES_FINGERPRINT
from tests.conversation.conversation_world import (
    comments,
    file_message,
    reply_event,
    running,
    settled,
    wait_for_comments,
)
from tests.running_bot import World, count_rows, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def refused_rows(world: World) -> int:
    return count_rows(
        world.log.parent / "outbox.db",
        "SELECT count(*) FROM conversation_followups WHERE refusal IS NOT NULL",
    )


def body_writes(world: World) -> list[str]:
    return [
        request.path
        for request in world.productlane.requests
        if request.method == "PATCH" and isinstance(request.json, dict) and "text" in request.json
    ]


def test_a_422_on_one_comment_refuses_that_batch_alone(tmp_path: Path) -> None:
    with running(tmp_path) as world:
        first = file_message(world, "1764330100.000100", "Search ignores accents")
        second = file_message(world, "1764330200.000100", "Dark mode flickers")
        world.productlane.fail_next(
            422, path=f"/threads/{first}/comments", method="POST", message="Validation failed: content."
        )
        reply_event(world, "1764330100.000100", "1764330110.000100", "café does not match cafe")
        wait_until(lambda: refused_rows(world) == 1, "the batch refused and kept", 30)
        reply_event(world, "1764330200.000100", "1764330210.000100", "only on Safari")
        wait_for_comments(world, second, 1)
        # The refused thread still takes comments: its next reply is one.
        reply_event(world, "1764330100.000100", "1764330120.000100", "naïve neither")
        wait_for_comments(world, first, 1)
        settled(world)
        assert body_writes(world) == [], "no body was re-rendered"
        assert "naïve neither" in comments(world, first)[0]["content"]
        assert "café" not in comments(world, first)[0]["content"]
        assert "re-rendering" not in world.log_text()
        assert "Productlane refused them (422)" in world.log_text()
        assert refused_rows(world) == 1


def test_the_fallback_never_overwrites_a_body_changed_in_productlane(tmp_path: Path) -> None:
    with running(tmp_path) as world:
        productlane = world.productlane
        edited = file_message(world, "1764330300.000100", "Invoices show the wrong VAT")
        untouched = file_message(world, "1764330400.000100", "Invoices miss the PO number")
        productlane.update_thread(edited, emit=False, text="<p>Rewritten by the team in Productlane</p>")
        productlane.conversation.comments_status = 404  # no comments at all: the fallback
        reply_event(world, "1764330300.000100", "1764330310.000100", "also for EU customers")
        wait_until(lambda: refused_rows(world) == 1, "the follow-up kept, not written over the body", 30)
        reply_event(world, "1764330400.000100", "1764330410.000100", "the PO is in the form")
        wait_until(
            lambda: f"/threads/{untouched}" in body_writes(world), "the unchanged body re-rendered", 30
        )
        settled(world)
        assert f"/threads/{edited}" not in body_writes(world)
        thread = next(t for t in productlane.threads if t["id"] == edited)
        assert thread["text"] == "<p>Rewritten by the team in Productlane</p>"
        assert "was changed in Productlane since the bot wrote it" in world.log_text()


def patched_texts(world: World, thread_id: str) -> list[str]:
    return [
        str(request.json["text"])
        for request in world.productlane.requests_to("PATCH", f"/threads/{thread_id}")
        if isinstance(request.json, dict) and "text" in request.json and request.status == 200
    ]


def test_a_body_rendered_again_leaves_out_held_and_refused_replies(tmp_path: Path) -> None:
    """On the fallback the body is the Slack thread again; a reply the flood limits hold, or one
    Productlane refused for its content, is in that thread but must never reach Productlane."""
    with running(tmp_path, {"FOLLOWUPS_PER_AUTHOR_HOUR": "1"}) as world:
        parent = "1764330500.000100"
        thread_id = file_message(world, parent, "Exports time out")
        world.productlane.fail_next(
            422, path=f"/threads/{thread_id}/comments", method="POST", message="Validation failed: content."
        )
        reply_event(world, parent, "1764330510.000100", "refused words")
        wait_until(lambda: refused_rows(world) == 1, "the reply refused and kept", 30)
        world.productlane.conversation.comments_status = 404  # from now on: the fallback
        # The customer's second reply goes over FOLLOWUPS_PER_AUTHOR_HOUR: held.
        reply_event(world, parent, "1764330520.000100", "held words")
        wait_until(lambda: "(new): held, over the flood limits" in world.log_text(), "the reply held", 30)
        # A colleague's reply is kept, and written by rendering the whole thread again.
        reply_event(world, parent, "1764330530.000100", "colleague words", user="U0CSM0002")
        body = wait_until(lambda: patched_texts(world, thread_id), "the body rendered again", 30)[-1]
        settled(world)
        assert "colleague words" in body
        assert "Exports time out" in body
        assert "held words" not in body
        assert "refused words" not in body
        everything = str(world.productlane.threads) + str(world.productlane.conversation.comments)
        assert "held words" not in everything
        assert "refused words" not in everything


def forget_body_fingerprints(world: World) -> None:
    """As a database from before the bot kept the fingerprint of each thread's body."""
    with sqlite3.connect(world.log.parent / "outbox.db") as connection:
        connection.execute("UPDATE conversation_threads SET body_sha256 = NULL")


def test_a_thread_filed_before_the_body_fingerprint_keeps_its_fallback_but_never_over_a_change(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as world:
        productlane = world.productlane
        database = world.log.parent / "outbox.db"
        untouched = file_message(world, "1764330500.000100", "Exports drop the header row")
        edited = file_message(world, "1764330600.000100", "Exports drop the footer row")
        forget_body_fingerprints(world)
        productlane.update_thread(edited, emit=False, text="<p>Rewritten by the team in Productlane</p>")
        productlane.conversation.comments_status = 404  # no comments at all: the fallback
        # Its body is still the one the bot filed (composed again from the kept submission): it is
        # re-rendered, and that body's fingerprint is kept from now on.
        reply_event(world, "1764330500.000100", "1764330510.000100", "only in CSV")
        wait_until(
            lambda: f"/threads/{untouched}" in body_writes(world), "the body the bot filed re-rendered", 30
        )
        assert "only in CSV" in next(t for t in productlane.threads if t["id"] == untouched)["text"]
        fingerprinted = (
            "SELECT count(*) FROM conversation_threads WHERE thread_id = ? AND body_sha256 IS NOT NULL"
        )
        wait_until(lambda: count_rows(database, fingerprinted, untouched) == 1, "its fingerprint", 30)
        # The team changed the other's body: each batch is kept for the admins, said once at WARNING.
        reply_event(world, "1764330600.000100", "1764330610.000100", "and in XLSX")
        wait_until(lambda: refused_rows(world) == 1, "the follow-up kept, not written over the body", 30)
        reply_event(world, "1764330600.000100", "1764330620.000100", "and in PDF")
        wait_until(lambda: refused_rows(world) == 2, "the next one kept too", 30)
        settled(world)
        assert f"/threads/{edited}" not in body_writes(world)
        thread = next(t for t in productlane.threads if t["id"] == edited)
        assert thread["text"] == "<p>Rewritten by the team in Productlane</p>"
        log = world.log_text()
        assert log.count(f"WARNING bot.conversation.sender: thread {edited}: {PREDATES_FINGERPRINT}") == 1
        assert f"not sent: {PREDATES_FINGERPRINT}, and Productlane refused them as a comment (404)" in log
        refusals = "SELECT count(*) FROM conversation_followups WHERE refusal LIKE '%predates%'"
        assert count_rows(database, refusals) == 2

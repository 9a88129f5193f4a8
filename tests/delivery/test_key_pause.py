"""A revoked, v1 or under-scoped Productlane key is the operator's to fix, not the submitter's.

Items stay pending, writes pause on every replica, each submitter hears once that the feedback
is saved, the log says what to fix at most once a minute, `notices()` names it (for /readyz), and delivery
resumes by itself once GET /me shows a working key (or at once after a restart with one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.delivery.outbox import Status
from tests.delivery.worker_rig import make_rig, submission
from tests.fakes.productlane import FakeProductlane
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)

PAUSED_LINE = "Delivery to Productlane is paused"
# The key is checked again this often while it is refused (KEY_PROBE_SECONDS is the bot's), so the
# tests see it checked again and again, and resuming, within a moment.
PROBE_EVERY = 0.05


def refuse(productlane: FakeProductlane, code: str) -> Callable[[], None]:
    """Make Productlane refuse the bot's key with ``code``; returns how to make it work again."""
    old_key = productlane.api_key
    if code == "unauthenticated":  # revoked: Productlane no longer knows the key
        productlane.api_key = "pl_v2_some_other_key"
        return lambda: setattr(productlane, "api_key", old_key)
    if code == "unsupported_key_version":  # a v1 key
        productlane.v1_keys = {old_key}
        return lambda: setattr(productlane, "v1_keys", set())
    assert code == "scope_required"  # the key lost threads:write
    productlane.set_scopes(["threads:read", "contacts:read"])
    return lambda: productlane.set_scopes(["threads:read", "threads:write", "contacts:read"])


def titles(productlane: FakeProductlane) -> list[str]:
    return sorted(thread["title"] for thread in productlane.threads)


def probes(productlane: FakeProductlane) -> int:
    return len(productlane.requests_to("GET", "/me"))


@pytest.mark.parametrize("code", ["unauthenticated", "unsupported_key_version", "scope_required"])
def test_a_refused_key_holds_items_until_the_key_works_again(
    tmp_path: Path, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.delivery.worker")
    with FakeProductlane() as productlane:
        rig = make_rig(tmp_path, productlane, key_probe_seconds=PROBE_EVERY)
        works_again = refuse(productlane, code)
        rig.worker.start()
        try:
            first = rig.intake.accept(submission("Export times out"))
            wait_until(lambda: rig.worker.key_problem() is not None, "the pause")
            rig.intake.accept(submission("Dark mode"))
            wait_until(lambda: len(rig.notifier.waiting_titles) == 2, "both submitters told")
            wait_until(lambda: probes(productlane) >= 3, "the key checked again and again")

            # Nobody's fault but the key's: no refusal, no Edit and resend, nothing more sent.
            assert rig.notifier.failures == []
            assert productlane.post_count == 1
            assert rig.outbox.counts()[Status.PENDING] == 2
            held = rig.outbox.get(int(first))
            assert held is not None
            assert held.last_error is not None
            assert f"({code}" in held.last_error
            assert "PRODUCTLANE_API_KEY" in held.last_error
            assert rig.worker.problems() == [], "submissions are still taken: the replica stays ready"
            problems = rig.worker.notices()
            assert len(problems) == 1
            assert code in problems[0]
            assert "PRODUCTLANE_API_KEY" in problems[0]
            assert productlane.api_key not in problems[0]
            loud = [r for r in caplog.records if PAUSED_LINE in r.getMessage()]
            assert len(loud) == 1
            assert loud[0].levelno == logging.ERROR

            works_again()
            rig.wait_settled(2)
            assert titles(productlane) == ["Dark mode", "Export times out"]
            assert productlane.created_count == 2
            # Told once each, while waiting; then the link, as for any delivery.
            assert sorted(rig.notifier.waiting_titles) == ["Dark mode", "Export times out"]
            assert len(rig.notifier.delivered_urls) == 2
            assert rig.worker.key_problem() is None
            assert rig.worker.notices() == []
        finally:
            rig.close()


def test_a_refused_first_send_is_not_looked_up_before_it_is_sent_again(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        rig = make_rig(tmp_path, productlane, key_probe_seconds=PROBE_EVERY)
        works_again = refuse(productlane, "unauthenticated")
        rig.worker.start()
        try:
            rig.intake.accept(submission("Refused for certain"))
            wait_until(lambda: rig.notifier.waiting_titles, "the submitter told")
            works_again()
            rig.wait_settled(1)
            # A 401 created nothing: no search of GET /threads was needed before sending again.
            assert productlane.requests_to("GET", "/threads") == []
            assert productlane.created_count == 1
        finally:
            rig.close()


def test_a_restart_with_a_working_key_resumes_at_once(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        # An hour between checks: only the check a starting worker makes can resume delivery.
        before = make_rig(tmp_path, productlane, key_probe_seconds=3600)
        revoked = productlane.api_key
        productlane.api_key = "pl_v2_the_new_key"  # the bot's key was revoked and replaced
        before.worker.start()
        try:
            before.intake.accept(submission("Sent before the restart"))
            wait_until(lambda: before.notifier.waiting_titles, "the submitter told")
        finally:
            before.close()
        assert productlane.created_count == 0

        after = make_rig(tmp_path, productlane, key_probe_seconds=3600, api_key="pl_v2_the_new_key")
        after.worker.start()
        try:
            after.wait_settled(1)
            assert titles(productlane) == ["Sent before the restart"]
            assert after.worker.key_problem() is None
            assert after.notifier.waiting_titles == []  # told once, by the first process
            assert revoked not in str(after.outbox.get(1))
        finally:
            after.close()


def test_one_replicas_refusal_pauses_every_replica(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        first = make_rig(tmp_path, productlane, key_probe_seconds=PROBE_EVERY)
        second = make_rig(tmp_path, productlane, key_probe_seconds=PROBE_EVERY)
        works_again = refuse(productlane, "unauthenticated")
        first.worker.start()
        second.worker.start()
        try:
            first.intake.accept(submission("First"))
            wait_until(lambda: second.worker.key_problem() is not None, "the pause, seen by both")
            for title in ("Second", "Third", "Fourth"):
                second.intake.accept(submission(title))

            def told() -> list[str]:
                return sorted(first.notifier.waiting_titles + second.notifier.waiting_titles)

            wait_until(lambda: len(told()) == 4, "every submitter told")
            assert told() == ["First", "Fourth", "Second", "Third"]  # once each, by one replica
            assert productlane.post_count == 1
            works_again()
            first.wait_settled(4)
            assert titles(productlane) == ["First", "Fourth", "Second", "Third"]
            assert productlane.created_count == 4
        finally:
            first.close()
            second.close()


def test_an_item_refused_for_its_content_still_offers_edit_and_resend(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        rig = make_rig(tmp_path, productlane)
        productlane.fail_next(403, code="forbidden", method="POST", path="/threads")
        rig.worker.start()
        try:
            rig.intake.accept(submission("Not allowed"))
            rig.wait_settled(1)
            wait_until(lambda: rig.notifier.failures, "the submitter told")
            assert rig.outbox.counts()[Status.FAILED] == 1
            assert len(rig.notifier.failures) == 1
            assert rig.worker.key_problem() is None
        finally:
            rig.close()

"""The delivery worker against a fake Productlane that fails in every documented way.

Every accepted submission must end as exactly one thread in Productlane, or as a refusal the
submitter hears about; never as nothing, never as two.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.delivery.outbox import Status
from bot.delivery.wiring import backoff_seconds
from tests.delivery.worker_rig import Rig, make_rig, submission
from tests.fakes.productlane import FakeProductlane
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeProductlane() as productlane:
        rig = make_rig(tmp_path, productlane)
        rig.worker.start()
        yield rig
        rig.close()


def titles(productlane: FakeProductlane) -> list[str]:
    return [thread["title"] for thread in productlane.threads]


def test_a_submission_is_delivered_and_the_reply_carries_the_link(rig: Rig) -> None:
    rig.intake.accept(submission("Export times out"))
    rig.wait_settled(1)
    assert titles(rig.productlane) == ["Export times out"]
    assert rig.notifier.delivered_urls == [
        f"https://productlane.test/feedback/{rig.productlane.threads[0]['id']}"
    ]
    assert rig.notifier.delayed_titles == []


def test_slack_retrying_a_submission_does_not_create_a_second_item(rig: Rig) -> None:
    first = rig.intake.accept(submission("Once"))
    again = rig.intake.accept(submission("Once"))
    assert first == again
    rig.wait_settled(1)
    # The one item, delivered, is all the outbox holds: nothing is left to send a second thread.
    assert sum(rig.outbox.counts().values()) == 1
    assert titles(rig.productlane) == ["Once"]


def test_server_errors_are_retried_and_the_submitter_hears_once(rig: Rig) -> None:
    rig.productlane.fail_next(500, n=3, method="POST", path="/threads")
    rig.intake.accept(submission("Outage"))
    rig.wait_settled(1)
    assert titles(rig.productlane) == ["Outage"]
    assert rig.notifier.delayed_titles == ["Outage"]
    assert len(rig.notifier.delivered_urls) == 1


def test_a_timeout_after_the_thread_was_created_does_not_duplicate_it(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        # The client gives up after 0.3 s (the rig's 1 s would only make the test wait longer);
        # Productlane answers a while after that.
        rig = make_rig(tmp_path, productlane, client_timeout=0.3)
        rig.worker.start()
        try:
            productlane.timeout_after_create(seconds=1.0)
            rig.intake.accept(submission("Slow answer"))
            rig.wait_settled(1)
            # The one item, delivered, is all the outbox holds: nothing is left to send it again.
            assert sum(rig.outbox.counts().values()) == 1
            assert titles(productlane) == ["Slow answer"]
            assert productlane.post_count == 1
            assert len(rig.notifier.delivered_urls) == 1
        finally:
            rig.close()


def test_a_dropped_answer_after_creation_does_not_duplicate_it(rig: Rig) -> None:
    rig.productlane.drop_next(method="POST", path="/threads", after_create=True)
    rig.intake.accept(submission("Lost answer"))
    rig.wait_settled(1)
    assert titles(rig.productlane) == ["Lost answer"]
    assert rig.productlane.post_count == 1


def test_a_lost_send_is_not_mistaken_for_an_earlier_thread_with_the_same_title(rig: Rig) -> None:
    rig.intake.accept(submission("Hi team,"))
    rig.wait_settled(1)
    # The second one's request is cut before Productlane creates anything: outcome unknown.
    rig.productlane.drop_next(method="POST", path="/threads")
    second = submission("Hi team,").model_copy(update={"key": "V-second"})
    rig.intake.accept(second)
    rig.wait_settled(2)
    assert titles(rig.productlane) == ["Hi team,", "Hi team,"]
    assert len(set(rig.notifier.delivered_urls)) == 2


def test_a_5xx_after_creation_does_not_duplicate_it(rig: Rig) -> None:
    rig.productlane.fail_next(502, method="POST", path="/threads", after_create=True)
    rig.intake.accept(submission("Gateway hiccup"))
    rig.wait_settled(1)
    assert titles(rig.productlane) == ["Gateway hiccup"]


def test_retry_after_is_honoured(rig: Rig) -> None:
    rig.productlane.fail_next(429, retry_after=0.4, method="POST", path="/threads")
    started = time.monotonic()
    rig.intake.accept(submission("Busy"))
    rig.wait_settled(1)
    posts = rig.productlane.requests_to("POST", "/threads")
    assert [request.status for request in posts] == [429, 201]
    assert posts[1].time - posts[0].time >= 0.38
    assert time.monotonic() - started >= 0.38


def test_a_refusal_is_not_retried_and_the_submitter_is_told(rig: Rig) -> None:
    rig.productlane.fail_next(400, method="POST", path="/threads")
    item_id = rig.intake.accept(submission("Refused"))
    rig.wait_settled(1)
    # The item is marked failed a moment before the submitter is told.
    wait_until(lambda: rig.notifier.failures, "the submitter told")
    assert rig.productlane.post_count == 1
    assert rig.outbox.counts().get(Status.FAILED) == 1
    assert rig.notifier.failures[0][0] == item_id
    assert "contact_email" in rig.notifier.failures[0][1] or rig.notifier.failures[0][1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_productlane_unreachable_for_a_while_then_back(tmp_path: Path) -> None:
    port = free_port()
    later = FakeProductlane(port=port)
    # The worker points at the port before anything answers there: its requests time out.
    rig = make_rig(tmp_path, later, client_timeout=0.3)
    rig.worker.start()
    try:
        rig.intake.accept(submission("Down then up"))
        wait_until(lambda: rig.notifier.delayed_titles, "the submitter told of the delay")
        assert rig.notifier.delayed_titles == ["Down then up"]
        later.start()
        rig.wait_settled(1)
        assert titles(later) == ["Down then up"]
    finally:
        rig.worker.stop(timeout=5)
        later.stop()


def test_writes_stay_within_the_shared_limit(tmp_path: Path) -> None:
    with FakeProductlane(enforce_rate_limit=True) as productlane:
        rig = make_rig(tmp_path, productlane, rate_per_minute=1200, burst=3, senders=4)
        for index in range(12):
            rig.intake.accept(submission(f"Burst {index}"))
        rig.worker.start()
        try:
            rig.wait_settled(12)
        finally:
            rig.worker.stop(timeout=5)
        assert sorted(titles(productlane)) == sorted(f"Burst {index}" for index in range(12))
        posts = sorted(request.time for request in productlane.requests_to("POST", "/threads"))
        # 3 at once, then one every 0.05 s: 12 sends take at least 0.45 s.
        assert posts[-1] - posts[0] >= 0.42


def test_an_idle_worker_holds_one_sender_and_a_backlog_gets_them_all(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        productlane.delay(0.1, method="POST", path="/threads")
        rig = make_rig(tmp_path, productlane, rate_per_minute=6000, burst=20, senders=4)
        rig.worker.start()
        try:
            assert rig.worker.senders_running() == 1
            for index in range(16):
                rig.intake.accept(submission(f"Backlog {index}"))
            most = 0

            def all_sent() -> bool:
                nonlocal most
                most = max(most, rig.worker.senders_running())
                time.sleep(0.01)
                return len(productlane.threads) >= 16

            wait_until(all_sent, "every thread of the backlog")
            rig.wait_settled(16)
            assert most == 4
            # The helpers end a poll interval after the backlog is gone.
            wait_until(lambda: rig.worker.senders_running() == 1, "the helpers to end")
            names = {thread.name for thread in threading.enumerate() if thread.name.startswith("delivery-")}
            assert names == {"delivery-0"}
            assert sorted(titles(productlane)) == sorted(f"Backlog {index}" for index in range(16))
        finally:
            rig.worker.stop(timeout=5)


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_seconds(1, rng=lambda: 1.0) == 2.0
    assert backoff_seconds(3, rng=lambda: 1.0) == 8.0
    assert backoff_seconds(30, rng=lambda: 1.0) == 300.0
    assert backoff_seconds(3, rng=lambda: 0.0) == 4.0


def test_stopping_waits_for_a_send_in_flight(tmp_path: Path) -> None:
    with FakeProductlane() as productlane:
        productlane.hold(method="POST", path="/threads")
        rig = make_rig(tmp_path, productlane)
        rig.worker.start()
        rig.intake.accept(submission("In flight"))
        productlane.wait_for(lambda fake: fake.post_count == 1, timeout=5)
        stopper = threading.Thread(target=rig.worker.stop)
        stopper.start()
        stopper.join(0.2)
        assert stopper.is_alive(), "the stop did not wait for the send under way"
        productlane.release()
        stopper.join(10)
        assert not stopper.is_alive()
        assert rig.outbox.counts().get(Status.DELIVERED) == 1

"""Background loops: an outage is told once (with its traceback), then once a minute, then that it
is over; never a traceback per pass. Stopping wakes every thread of a worker."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from bot.background import DUE_MARGIN_SECONDS, BackgroundThreads, RepeatedFailureLog, idle_until_due
from tests.delivery.worker_rig import make_rig
from tests.fakes.productlane import FakeProductlane
from tests.running_bot import wait_until


def test_a_failing_loop_logs_once_then_once_a_minute_then_its_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("tests.loop")
    failures = RepeatedFailureLog(log, "a pass", every_seconds=60)
    with caplog.at_level(logging.INFO, logger="tests.loop"):
        for _ in range(50):
            failures.failed(sqlite3.OperationalError("database is locked"))
        failures.worked()
        failures.worked()
        failures.failed(ConnectionError("down again"))
    messages = [
        (record.levelno, record.getMessage(), record.exc_info is not None) for record in caplog.records
    ]
    assert messages == [
        (logging.ERROR, "a pass failed; trying again shortly", True),
        (logging.WARNING, "a pass works again after 50 failure(s)", False),
        (logging.ERROR, "a pass failed; trying again shortly", True),
    ]


def test_a_long_outage_is_repeated_once_a_minute_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    failures = RepeatedFailureLog(logging.getLogger("tests.loop"), "a pass", every_seconds=0.05)
    with caplog.at_level(logging.INFO, logger="tests.loop"):
        failures.failed(OSError("down"))
        time.sleep(0.06)
        failures.failed(OSError("down"))
    assert [record.getMessage() for record in caplog.records] == [
        "a pass failed; trying again shortly",
        "a pass still failing (2 times so far, last: OSError)",
    ]
    assert caplog.records[1].exc_info is None


def test_the_delivery_worker_does_not_log_a_traceback_per_pass_while_its_database_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeProductlane() as productlane:
        rig = make_rig(tmp_path, productlane, poll_interval=0.02)
        # The outbox's table is gone under the running worker: every pass fails.
        with sqlite3.connect(tmp_path / "outbox.db") as other:
            other.execute("DROP TABLE outbox_items")
        passes = 0
        claim = rig.outbox.claim

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal passes
            passes += 1
            return claim(*args, **kwargs)

        rig.outbox.claim = counted  # type: ignore[method-assign]
        with caplog.at_level(logging.INFO, logger="bot.delivery.worker"):
            rig.worker.start()
            wait_until(lambda: passes >= 10, "ten passes, each failing")
            rig.worker.stop(timeout=5)
        rig.client.close()
        rig.outbox.database.close()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage() == "delivery pass failed; trying again shortly"
    assert errors[0].exc_info is not None


def test_the_stop_wakes_every_thread_even_after_one_of_them_took_its_wake() -> None:
    threads = BackgroundThreads()
    threads.stopping.set()
    threads.wake.set()  # what stop() does
    threads.idle(60)  # one thread wakes, and takes the wake
    assert threads.wake.is_set(), "the others are woken too, not left waiting out their interval"


def test_a_worker_sleeps_until_something_comes_due_within_its_idle_interval() -> None:
    assert idle_until_due(None, 1.0) == 1.0  # nothing waits
    assert idle_until_due(0.0, 1.0) == 1.0  # due but not taken: no spinning on it
    assert idle_until_due(-3.0, 1.0) == 1.0
    assert idle_until_due(0.5, 1.0) == 0.5 + DUE_MARGIN_SECONDS
    assert idle_until_due(5.0, 1.0) == 1.0

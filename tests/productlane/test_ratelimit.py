import threading
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.productlane import WriteLimiter
from tests.fakes.productlane import FakeClock


def make(clock: FakeClock, **kwargs: Any) -> WriteLimiter:
    return WriteLimiter(clock=clock, sleep=clock.sleep, **kwargs)


def grant_times(limiter: WriteLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        assert limiter.acquire() is True
        times.append(clock())
    return times


def max_in_window(times: list[float], window: float) -> int:
    best, recent = 0, deque[float]()
    for t in times:
        recent.append(t)
        while recent[0] + window <= t:
            recent.popleft()
        best = max(best, len(recent))
    return best


def test_burst_then_one_per_second():
    clock = FakeClock()
    limiter = make(clock, rate_per_minute=60, burst=10)
    start = clock()
    for _ in range(10):
        assert limiter.try_acquire() == 0.0
    wait = limiter.try_acquire()
    assert wait == pytest.approx(1.0)
    clock.advance(0.5)
    assert limiter.try_acquire() == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.try_acquire() == 0.0
    assert clock() - start == pytest.approx(1.0)


def test_never_more_than_60_per_minute_nor_20_per_10_seconds():
    clock = FakeClock()
    limiter = make(clock)  # the defaults: 60/min, burst 10
    times = grant_times(limiter, clock, 300)
    assert max_in_window(times, 60.0) <= 60
    assert max_in_window(times, 10.0) <= 20
    # and it is not needlessly slow: 300 writes take about 5 minutes
    assert times[-1] - times[0] == pytest.approx(290.0, abs=2.0)


@settings(max_examples=min(50, settings().max_examples), deadline=None)  # fewer in the fast tier
@given(
    rate=st.integers(min_value=1, max_value=120),
    burst=st.integers(min_value=1, max_value=30),
    gaps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=150),
)
def test_window_cap_holds_for_any_arrival_pattern(rate, burst, gaps):
    clock = FakeClock()
    limiter = make(clock, rate_per_minute=rate, burst=burst)
    times = []
    for gap in gaps:
        clock.advance(gap)
        limiter.acquire()
        times.append(clock())
    assert max_in_window(times, 60.0) <= rate
    # a bucket of `burst` tokens refilled at rate/60 per second
    assert max_in_window(times, 10.0) <= min(burst, rate) + rate * 10 / 60 + 1


def test_try_acquire_never_blocks_and_never_sleeps():
    clock = FakeClock()
    limiter = make(clock, burst=1)
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 0
    assert clock.sleeps == []


def test_pause_holds_every_write_and_only_extends():
    clock = FakeClock()
    limiter = make(clock, burst=10)
    limiter.pause(30)
    limiter.pause(5)  # shorter: ignored
    assert limiter.paused_for == pytest.approx(30)
    assert limiter.try_acquire() == pytest.approx(30)
    assert limiter.acquire() is True
    assert clock.sleeps == [pytest.approx(30)]
    assert limiter.paused_for == 0.0


def test_acquire_with_timeout_gives_up_without_taking():
    clock = FakeClock()
    limiter = make(clock, burst=1)
    assert limiter.acquire(timeout=0) is True
    assert limiter.acquire(timeout=0.25) is False
    assert clock.sleeps == [pytest.approx(0.25)]
    clock.advance(0.75)
    assert limiter.try_acquire() == 0.0  # the failed acquire took nothing


def test_thread_safe_grants_exactly_the_burst():
    clock = FakeClock()  # frozen: no refill
    limiter = make(clock, burst=25)
    granted = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        mine = 0
        for _ in range(50):
            if limiter.try_acquire() == 0.0:
                mine += 1
        granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 25


@pytest.mark.parametrize("kwargs", [{"rate_per_minute": 0}, {"burst": 0}, {"window": 0}])
def test_invalid_configuration(kwargs):
    with pytest.raises(ValueError, match="must be"):
        WriteLimiter(**kwargs)


def test_burst_is_capped_by_the_rate():
    assert WriteLimiter(rate_per_minute=5, burst=10).burst == 5

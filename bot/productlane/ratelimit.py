"""Client-side limit on writes, so the bot stays inside Productlane's documented write limit.

Productlane allows, per API key, 60 writes (POST/PATCH/DELETE) per minute, "bursts up to 2× over
10 s". Our reading, chosen to be safe under any sensible server implementation:

* **burst**: a token bucket with ``burst`` tokens (default 10) refilled at ``rate_per_minute / 60``
  per second (default 1/s). In any 10 s span that admits at most ``burst + 10`` = 20 writes, i.e.
  2× the 10 writes a steady 60/min would spread over 10 s.
* **minute**: in addition, never more than ``rate_per_minute`` grants in any ``window`` (60 s) span,
  kept as a sliding log of grant times. A bucket alone would admit ``burst + 60`` in a minute.
* **pause**: when Productlane answers 429 with ``Retry-After``, :meth:`WriteLimiter.pause` holds
  every write for that long (pauses only ever extend, never shorten).

One limiter should be shared by everything in the process that writes with the same key.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["WriteLimiter"]

# try_acquire never returns a wait below this when it did not grant, so 0.0 means "granted".
_MIN_WAIT = 1e-3


class WriteLimiter:
    """Thread-safe token bucket plus sliding one-minute cap.

    ``clock`` must be monotonic; ``sleep`` is used only by :meth:`acquire`. Both are injectable so
    tests can drive the limiter with a fake clock.
    """

    def __init__(
        self,
        rate_per_minute: int = 60,
        burst: int = 10,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.rate_per_minute = rate_per_minute
        self.burst = min(burst, rate_per_minute)
        self.window = window
        self._rate = rate_per_minute / window  # tokens per second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()
        self._grants: deque[float] = deque()
        self._paused_until = float("-inf")

    def __repr__(self) -> str:
        return (
            f"WriteLimiter(rate_per_minute={self.rate_per_minute}, burst={self.burst}, window={self.window})"
        )

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self._rate)
            self._updated = now
        # Same arithmetic as the wait in try_acquire, so the two can never disagree by a rounding.
        while self._grants and self._grants[0] + self.window <= now:
            self._grants.popleft()

    def try_acquire(self) -> float:
        """Take a write slot if one is free now: return ``0.0``. Otherwise take nothing and return
        the seconds to wait before trying again (always > 0)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            wait = 0.0
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self._rate
            if len(self._grants) >= self.rate_per_minute:
                wait = max(wait, self._grants[0] + self.window - now)
            wait = max(wait, self._paused_until - now)
            if wait > 0:
                return max(wait, _MIN_WAIT)
            self._tokens -= 1.0
            self._grants.append(now)
            return 0.0

    def acquire(self, timeout: float | None = None) -> bool:
        """Block until a write slot is taken (``True``), or until ``timeout`` seconds have passed
        without one (``False``; nothing taken)."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return True
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                wait = min(wait, remaining)
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every write for ``seconds`` from now (e.g. a 429's ``Retry-After``)."""
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

"""Named daemon threads that run until asked to stop: what the delivery and updates workers share."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

# A worker sleeping until something comes due wakes this much after it, so that its claim does not
# miss it by a rounding.
DUE_MARGIN_SECONDS = 0.005


def idle_until_due(due_in: float | None, idle: float) -> float:
    """How long a worker sleeps between passes: its idle interval, or less when something comes due
    sooner (`due_in` seconds from now). Something already due that was not taken (another thing
    going first) is looked at after the idle interval, so the worker does not spin on it."""
    if due_in is None or due_in <= 0:
        return idle
    return min(idle, due_in + DUE_MARGIN_SECONDS)


class BackgroundThreads:
    """Starts `(name, target)` pairs once, stops them together within one deadline, and says
    whether any has died (a worker whose loop crashed must show on /readyz).

    Helpers are extra threads started while there is work and ending by themselves when it is
    done (an idle bot holds only the threads it always needs). Their ending is not a death.
    """

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._helpers: list[threading.Thread] = []
        self._helpers_lock = threading.Lock()

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def start(self, targets: Sequence[tuple[str, Callable[[], None]]]) -> None:
        if self._threads:
            return
        self.stopping.clear()
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def add_helper(self, names: Sequence[str], target: Callable[[], None]) -> bool:
        """Start a helper under the first of `names` no live helper has; False when all are
        taken or the threads are stopping."""
        with self._helpers_lock:
            self._helpers = [helper for helper in self._helpers if helper.is_alive()]
            if self.stopping.is_set() or not self._threads:
                return False
            taken = {helper.name for helper in self._helpers}
            free = [name for name in names if name not in taken]
            if not free:
                return False
            helper = threading.Thread(target=target, name=free[0], daemon=True)
            helper.start()
            self._helpers.append(helper)
            return True

    def helpers(self) -> int:
        """How many helpers are running now."""
        with self._helpers_lock:
            return sum(helper.is_alive() for helper in self._helpers)

    def idle(self, seconds: float) -> None:
        """Wait up to `seconds` for a wake (new work, or the stop), and take it. The stop's wake is
        for every thread: it is left set, or one thread taking it would leave another waiting out
        its whole interval after the stop."""
        self.wake.wait(seconds)
        self.wake.clear()
        if self.stopping.is_set():
            self.wake.set()

    def stop(self, timeout: float) -> None:
        """Ask every thread to stop (and wake it), then wait for all of them up to `timeout`."""
        self.stopping.set()
        self.wake.set()
        deadline = time.monotonic() + timeout
        with self._helpers_lock:
            everyone = self._threads + self._helpers
        for thread in everyone:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        with self._helpers_lock:
            self._helpers.clear()

    def any_died(self) -> bool:
        return bool(self._threads) and not all(thread.is_alive() for thread in self._threads)


class RepeatedFailureLog:
    """Logs a loop's failures without flooding the log: the first with its traceback, then one
    line a minute while they go on (a database that is down fails every pass), and one line when
    the loop works again."""

    def __init__(self, log: logging.Logger, what: str, *, every_seconds: float = 60.0) -> None:
        self._log = log
        self._what = what
        self._every = every_seconds
        self._lock = threading.Lock()
        self._failures = 0
        self._logged_at = 0.0

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self._failures += 1
            first = self._failures == 1
            due = time.monotonic() - self._logged_at >= self._every
            if first or due:
                self._logged_at = time.monotonic()
            failures = self._failures
        if first:
            self._log.error("%s failed; trying again shortly", self._what, exc_info=error)
        elif due:
            self._log.error(
                "%s still failing (%d times so far, last: %s)", self._what, failures, type(error).__name__
            )

    def worked(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, 0
        if failures:
            self._log.warning("%s works again after %d failure(s)", self._what, failures)

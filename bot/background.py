"""Named daemon threads that run until asked to stop: what the delivery and updates workers share."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence


class BackgroundThreads:
    """Starts `(name, target)` pairs once, stops them together within one deadline, and says
    whether any has died (a worker whose loop crashed must show on /readyz)."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._threads: list[threading.Thread] = []

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

    def stop(self, timeout: float) -> None:
        """Ask every thread to stop (and wake it), then wait for all of them up to `timeout`."""
        self.stopping.set()
        self.wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def any_died(self) -> bool:
        return bool(self._threads) and not all(thread.is_alive() for thread in self._threads)

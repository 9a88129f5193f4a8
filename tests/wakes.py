"""A stand-in for a worker's wake-up event (`BackgroundThreads.wake`): what the tests of how long a
worker sleeps between passes read."""

from __future__ import annotations

import threading


class OneWait(threading.Event):
    """The worker's wake-up: records how long the worker chose to sleep, then stops it."""

    def __init__(self, stopping: threading.Event) -> None:
        super().__init__()
        self._stopping = stopping
        self.waits: list[float | None] = []
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self._stopping.set()
        self.waited.set()
        return True

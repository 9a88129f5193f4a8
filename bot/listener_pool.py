"""The threads Bolt runs listeners on, sized for bursts and drained at shutdown.

With `process_before_response`, every ack is answered on the request's own thread and the slow part
(opening a modal: `views.open`, then the author's details) runs here as a lazy listener. Bolt's default
pool has 5 threads: 20 people pressing the shortcut at once while Slack takes a second per
`views.open` would wait four seconds for the last modal — past the trigger's 3 s life.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

# Each lazy listener mostly waits on Slack; threads that wait cost little.
LISTENER_THREADS = 32

P = ParamSpec("P")
T = TypeVar("T")


class ListenerPool(ThreadPoolExecutor):
    """A thread pool that knows how many tasks are under way, so shutdown can let them finish."""

    def __init__(self, threads: int = LISTENER_THREADS) -> None:
        super().__init__(max_workers=threads, thread_name_prefix="listener")
        self._under_way = 0
        self._changed = threading.Condition()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._changed:
            self._under_way += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def drain(self, timeout: float) -> bool:
        """Take no more tasks; wait up to `timeout` for those under way. True when all finished."""
        deadline = time.monotonic() + timeout
        with self._changed:
            finished = self._changed.wait_for(
                lambda: self._under_way == 0, timeout=max(0.0, deadline - time.monotonic())
            )
        self.shutdown(wait=False)
        return finished

    def _finished(self, future: Future[Any] | None) -> None:
        with self._changed:
            self._under_way -= 1
            self._changed.notify_all()

"""Group commit for webhook events: whatever arrives together is written in one transaction.

Each request still waits until its event is stored before it is answered. But a burst of
deliveries becomes a few transactions instead of one each, so the database's write lock (one per
file on SQLite) is free most of the time — for Slack's acks above all, whose insert would
otherwise queue behind every webhook of the burst.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.updates.store import NewEvent

__all__ = ["GroupCommit"]

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    event: NewEvent
    done: threading.Event = field(default_factory=threading.Event)
    created: bool = False
    error: BaseException | None = None


class GroupCommit:
    """``add(...)`` blocks until the event is stored (True) or was there already (False);
    raises what the database raised, or `TimeoutError` after ``timeout`` seconds."""

    def __init__(
        self,
        write: Callable[[Sequence[NewEvent]], list[bool]],
        *,
        max_batch: int = 200,
        timeout: float = 10.0,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._timeout = timeout
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, event_id: str, event_type: str, payload: dict[str, Any]) -> bool:
        waiting = _Waiting(NewEvent(event_id, event_type, payload))
        self._ensure_running()
        self._queue.put(waiting)
        if not waiting.done.wait(self._timeout):
            raise TimeoutError("the event was not stored in time")
        if waiting.error is not None:
            raise waiting.error
        return waiting.created

    def _ensure_running(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="updates-inbox", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self._write([w.event for w in batch])
            except Exception as error:  # every waiter hears it (and answers 503)
                for waiting in batch:
                    waiting.error = error
            else:
                for waiting, created in zip(batch, results, strict=True):
                    waiting.created = created
            finally:
                for waiting in batch:
                    waiting.done.set()

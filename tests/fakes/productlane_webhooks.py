"""Productlane's webhook deliveries, as the fake Productlane sends them: real signed HTTP POSTs.

Written from Productlane's documentation, independently of `bot.updates` (so the two can
disagree and a test will notice):

* body ``{"id": "evt_…", "type": "<event>", "created_at": "ISO", "data": {…}}``;
* headers ``Content-Type: application/json``, ``User-Agent: Productlane-Webhooks/1.0``,
  ``Productlane-Event``, ``Productlane-Event-Id`` (the same on every retry),
  ``Productlane-Delivery-Id`` (new per attempt), ``Productlane-Webhook-Id`` and
  ``Productlane-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>``;
* a non-2xx answer (or no answer) is retried after 1 min, 5 min, 30 min, 2 h, 6 h and 24 h, then
  the delivery is ``dead``. Tests compress that schedule with ``time_scale`` (default 1/1000:
  0.06 s, 0.3 s, 1.8 s …).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "RETRY_SCHEDULE",
    "USER_AGENT",
    "WebhookAttempt",
    "WebhookSender",
    "post",
    "sign",
    "signed_headers",
]

RETRY_SCHEDULE: tuple[float, ...] = (60, 300, 1800, 7200, 21600, 86400)
USER_AGENT = "Productlane-Webhooks/1.0"
DEFAULT_PATTERNS = ("thread.*", "customer_need.*", "issue.*", "project.*")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes,
    secret: str | Iterable[str],
    *,
    event_type: str,
    event_id: str,
    timestamp: int | None = None,
    delivery_id: str | None = None,
    webhook_id: str = "wbk_test",
) -> dict[str, str]:
    """The headers of one delivery attempt; several secrets give several ``v1`` entries."""
    when = int(time.time()) if timestamp is None else timestamp
    keys = [secret] if isinstance(secret, str) else list(secret)
    signature = ",".join([f"t={when}", *(f"v1={sign(key, when, body)}" for key in keys)])
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Productlane-Event": event_type,
        "Productlane-Event-Id": event_id,
        "Productlane-Delivery-Id": delivery_id or "wdl_" + secrets.token_hex(8),
        "Productlane-Webhook-Id": webhook_id,
        "Productlane-Signature": signature,
    }


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 5.0) -> tuple[int | None, str]:
    """One POST; (status, answer text), or (None, the error) when there was no answer."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("POST", parts.path or "/", body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return None, f"{type(error).__name__}: {error}"
    finally:
        connection.close()


@dataclass
class WebhookAttempt:
    """One delivery attempt the fake made."""

    webhook_id: str
    event_id: str
    event_type: str
    delivery_id: str
    attempt: int  # 1 for the first try
    status: int | None  # None: no answer (refused, reset, timeout)
    answer: str
    time: float  # time.monotonic() when the answer came


@dataclass
class _Subscription:
    webhook_id: str
    url: str
    secret: str
    patterns: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        return any(
            pattern in ("*", event_type) or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
            for pattern in self.patterns
        )


@dataclass(order=True)
class _Job:
    due: float
    order: int
    subscription: _Subscription = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookSender:
    """Delivers events to subscribed URLs from ``senders`` background threads, in due order."""

    def __init__(
        self,
        *,
        time_scale: float = 0.001,
        schedule: Iterable[float] = RETRY_SCHEDULE,
        senders: int = 1,
        timeout: float = 5.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.time_scale = time_scale
        self.schedule = tuple(schedule)
        self._senders = senders
        self._timeout = timeout
        self._wall = wall_clock
        self._lock = threading.Condition()
        self._jobs: list[_Job] = []
        self._in_flight = 0
        self._order = itertools.count()
        self._subscriptions: dict[str, _Subscription] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.attempts: list[WebhookAttempt] = []
        self.dead: list[tuple[str, str]] = []  # (webhook id, event id) given up after the schedule

    # -- lifecycle

    def start(self) -> WebhookSender:
        if not self._threads:
            for index in range(self._senders):
                thread = threading.Thread(target=self._run, name=f"fake-webhooks-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    # -- subscriptions and events

    def subscribe(self, url: str, secret: str, patterns: Iterable[str] = DEFAULT_PATTERNS) -> str:
        webhook_id = "wbk_" + secrets.token_hex(6)
        with self._lock:
            self._subscriptions[webhook_id] = _Subscription(webhook_id, url, secret, tuple(patterns))
        return webhook_id

    def unsubscribe(self, webhook_id: str) -> None:
        with self._lock:
            self._subscriptions.pop(webhook_id, None)

    def send(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for every subscription that wants its type (the body is fixed now,
        as Productlane's is: every retry carries the same bytes)."""
        body = json.dumps(event, separators=(",", ":")).encode()
        with self._lock:
            for subscription in self._subscriptions.values():
                if subscription.wants(str(event["type"])):
                    heapq.heappush(
                        self._jobs, _Job(time.monotonic(), next(self._order), subscription, event, body)
                    )
            self._lock.notify_all()

    # -- what happened

    def attempts_for(self, event_id: str) -> list[WebhookAttempt]:
        with self._lock:
            return [a for a in self.attempts if a.event_id == event_id]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being sent (retries waiting count as queued)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._jobs or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.05))
            return True

    def wait_for(self, predicate: Callable[[WebhookSender], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.05))
            return True

    # -- sending

    def _next_job(self) -> _Job | None:
        with self._lock:
            while not self._stopping.is_set():
                if self._jobs:
                    wait = self._jobs[0].due - time.monotonic()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._jobs)
                    self._lock.wait(min(wait, 0.05))
                else:
                    self._lock.wait(0.05)
            return None

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                self._attempt(job)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._lock.notify_all()

    def _attempt(self, job: _Job) -> None:
        event_id, event_type = str(job.event["id"]), str(job.event["type"])
        delivery_id = "wdl_" + secrets.token_hex(8)
        headers = signed_headers(
            job.body,
            job.subscription.secret,
            event_type=event_type,
            event_id=event_id,
            timestamp=int(self._wall()),  # signed anew on every attempt
            delivery_id=delivery_id,
            webhook_id=job.subscription.webhook_id,
        )
        status, answer = post(job.subscription.url, job.body, headers, self._timeout)
        with self._lock:
            self.attempts.append(
                WebhookAttempt(
                    job.subscription.webhook_id,
                    event_id,
                    event_type,
                    delivery_id,
                    job.attempt,
                    status,
                    answer[:500],
                    time.monotonic(),
                )
            )
            if status is not None and 200 <= status < 300:
                return
            if job.attempt > len(self.schedule):
                self.dead.append((job.subscription.webhook_id, event_id))
                return
            delay = self.schedule[job.attempt - 1] * self.time_scale
            job.due = time.monotonic() + delay
            job.order = next(self._order)
            job.attempt += 1
            heapq.heappush(self._jobs, job)

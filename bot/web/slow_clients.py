"""Deadlines for receiving a request, so that clients sending slowly cannot hold every connection.

waitress closes a connection only once it has been *silent* for its idle timeout, and every byte
counts as activity: a client sending one header byte every few seconds keeps its connection for
ever. At its connection limit waitress stops accepting, so a hundred such clients (the default
limit) left Slack's requests, the webhooks and the probes waiting in the listen backlog until they
gave up ("slowloris").

Here every request has a deadline of its own, however its bytes trickle in:

- its headers must be complete `header_seconds` after its first byte arrived
  (HTTP_HEADERS_DEADLINE_SECONDS);
- its body must be complete `body_seconds` (HTTP_BODY_DEADLINE_SECONDS) plus its length at
  `body_bytes_per_second` after its headers ended (a chunked body, whose length is not known, is
  allowed the time of the largest body the server accepts).

A connection that misses its deadline is closed without an answer: it is not sending a request,
and an answer would go to a client that is not reading. The check runs on waitress's I/O thread once
a second (its maintenance pass; more often for a deadline under four seconds); a request already
read in full (its handler running, or its answer being sent) is never cut off. With the deadlines,
holding connections costs an attacker a new connection every few seconds each instead of one for
good, and the connection limit is raised far above what a team's Slack traffic needs, so the few
hundred it takes no longer stop the bot.

Not here: a per-address cap. Behind a load balancer or proxy every request comes from its address,
and a cap on it would refuse Slack along with everyone else.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import cast

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer

from bot.settings import DEFAULT_BODY_DEADLINE_SECONDS, DEFAULT_HEADERS_DEADLINE_SECONDS, Settings

log = logging.getLogger(__name__)

KIB = 1024
# A closed slow client is logged, but under attack that is hundreds a minute: one line a minute.
REPORT_EVERY_SECONDS = 60.0
# How often waitress's maintenance pass (the idle timeout and these deadlines) runs at most.
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class ReadDeadlines:
    """How long a client may take to send a request (HTTP_HEADERS_DEADLINE_SECONDS and
    HTTP_BODY_DEADLINE_SECONDS; the defaults are theirs)."""

    header_seconds: float = DEFAULT_HEADERS_DEADLINE_SECONDS
    body_seconds: float = DEFAULT_BODY_DEADLINE_SECONDS
    # The slowest body accepted: a 1 MiB body (the largest Slack route's cap) gets 10 s + 16 s.
    body_bytes_per_second: float = 64 * KIB

    @classmethod
    def of(cls, settings: Settings) -> ReadDeadlines:
        return cls(settings.http_headers_deadline_seconds, settings.http_body_deadline_seconds)

    def sweep_seconds(self) -> float:
        """How often to look for late requests: a request is cut at most this long after its
        deadline. Once a second, or a quarter of a deadline shorter than four seconds, so that a
        short deadline is not stretched by half or more."""
        return min(SWEEP_SECONDS, self.header_seconds / 4, self.body_seconds / 4)

    def body_allowance(self, length: int) -> float:
        return self.body_seconds + length / self.body_bytes_per_second

    def describe(self) -> str:
        """What a client must keep to, in the words of the log and `check`."""
        return (
            f"headers within {self.header_seconds:g} s of the first byte, then the body within "
            f"{self.body_seconds:g} s plus 1 s per {self.body_bytes_per_second / KIB:g} KiB"
        )


@dataclass
class RequestClock:
    """When the request being received began (its first byte) and when its headers ended."""

    request: HTTPRequestParser
    started: float
    headers_ended: float | None = None


def overdue(clock: RequestClock, body_length: int, deadlines: ReadDeadlines, now: float) -> bool:
    """Whether the request timed by `clock` has missed its deadline. `body_length`: what its
    headers declared (once they ended)."""
    if clock.headers_ended is None:
        return now - clock.started > deadlines.header_seconds
    return now - clock.headers_ended > deadlines.body_allowance(body_length)


class DeadlineChannel(HTTPChannel):
    """waitress's connection, timing the request it is receiving."""

    clock: RequestClock | None = None

    def received(self, data: bytes) -> bool:
        now = time.monotonic()
        accepted = super().received(data)
        request = self.request  # the request still being received, if any
        if request is None:
            self.clock = None
        else:
            if self.clock is None or self.clock.request is not request:
                # Its first bytes came in this read (after a previous request, when pipelined).
                self.clock = RequestClock(request, started=now)
            if request.headers_finished and self.clock.headers_ended is None:
                self.clock.headers_ended = now
        return accepted

    def overdue(self, deadlines: ReadDeadlines, now: float) -> bool:
        """Whether the request being received has missed its deadline. A connection whose earlier
        request is still being handled or answered is not: closing it would cut that answer off."""
        request, clock = self.request, self.clock
        if request is None or clock is None or clock.request is not request or self.requests:
            return False
        length = request.content_length
        if request.chunked:
            length = self.adj.max_request_body_size
        return overdue(clock, length, deadlines, now)


class DeadlineServer(TcpWSGIServer):
    """waitress's TCP server whose maintenance pass also closes connections past their deadline."""

    channel_class = DeadlineChannel

    def __init__(self, *args: object, deadlines: ReadDeadlines, **kwargs: object) -> None:
        self.deadlines = deadlines
        self._closed_unreported = 0
        self._last_report = -math.inf
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def maintenance(self, now: float) -> None:
        # The idle timeout. waitress passes time.time(); its type stubs say int.
        super().maintenance(now)  # type: ignore[arg-type]
        self.close_overdue(time.monotonic())

    def close_overdue(self, now: float) -> int:
        """Close every connection whose request has missed its deadline; how many were closed."""
        channels = cast(dict[int, HTTPChannel], self.active_channels)
        late = [
            channel
            for channel in channels.values()
            if isinstance(channel, DeadlineChannel)
            and not channel.will_close
            and channel.overdue(self.deadlines, now)
        ]
        for channel in late:
            # Closed on the loop's next pass, as waitress closes idle connections.
            channel.will_close = True
        self._closed_unreported += len(late)
        if self._closed_unreported and now - self._last_report >= REPORT_EVERY_SECONDS:
            log.warning(
                "closed %d connection(s) that did not send a whole request in time (%s); "
                "a client sending this slowly is not Slack",
                self._closed_unreported,
                self.deadlines.describe(),
            )
            self._closed_unreported = 0
            self._last_report = now
        return len(late)


def connection_limit(wanted: int, open_files: int, reserve: int) -> int:
    """How many connections to accept at once: `wanted`, unless the process may not open that many
    files (sockets count) beside the `reserve` the rest of the bot needs. Past that limit accept()
    would fail on every pass of waitress's loop, which then spins instead of serving."""
    return max(1, min(wanted, open_files - reserve))

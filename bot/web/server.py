"""Serving a route table over HTTP with waitress, in a thread of its own, and stopping gracefully.

Why waitress (see README, "HTTP mode"): one I/O thread reads every request in full — however slowly its
body trickles in — before a worker thread sees it, so a stalled client costs a socket, never a worker;
its listen backlog is 1024, not http.server's 5; it is pure Python and imports in tens of milliseconds,
cheap enough for socket mode's health probes; and it runs inside our own process, beside the delivery
worker, without a pre-forking master.

What waitress does not do against slow clients — a deadline for each request, however its bytes
trickle in, and a connection limit far above its default 100 — is in `bot.web.slow_clients`.

`stop()` is the graceful part waitress leaves to its host: close the listening socket (new
connections are refused), wait — within a grace period — until no connection is receiving a request,
has one queued or running, or has an answer still to send, then close everything.
"""

from __future__ import annotations

import logging
import math
import resource
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel

from bot.web.routes import RouteTable
from bot.web.slow_clients import DeadlineChannel, DeadlineServer, ReadDeadlines, connection_limit

log = logging.getLogger(__name__)

# Worker threads run handlers only (bodies are read by the I/O thread): each Slack ack takes a few
# milliseconds, so 8 keep a burst of 20 well inside Slack's 3 s without queueing warnings piling up.
DEFAULT_THREADS = 8
# Connections waiting to be accepted; http.server's 5 is what reset bursts of 20.
BACKLOG = 1024
# A connection silent this long with no request under way is closed (Slack sends in milliseconds).
IDLE_TIMEOUT_SECONDS = 30
# Connections open at once; past it waitress stops accepting until one closes. waitress's default,
# 100, is what a hundred clients trickling their headers exhausted. Each slow one is closed at its
# deadline (bot.web.slow_clients), so holding 500 takes an attacker some fifty new connections a
# second, for as long as it lasts; Slack's own traffic needs a few dozen at once at most.
CONNECTION_LIMIT = 500
# Files the rest of the bot may hold open beside the connections: the database pool, the clients to
# Slack and Productlane, logs, waitress's own listener and wake-up pipe. The connection limit is
# lowered to fit the process's open-files limit (ulimit -n) with this to spare.
DESCRIPTOR_RESERVE = 128
POLL_SECONDS = 0.05
# Every interface: in a container the orchestrator's probes and the load balancer come from outside.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


class PortUnavailableError(Exception):
    """The port could not be listened on (taken, or not ours to use)."""


class HttpServer:
    """A bound server: listening (connections queue) from construction, answering from `start()`."""

    def __init__(
        self,
        routes: RouteTable,
        port: int,
        *,
        host: str = ALL_INTERFACES,
        threads: int = DEFAULT_THREADS,
        deadlines: ReadDeadlines = ReadDeadlines(),  # noqa: B008 - frozen, shared safely
        connections: int = CONNECTION_LIMIT,
    ) -> None:
        # waitress's socket map: its listening socket, its wake-up pipe and every connection.
        self._map: dict[int, Any] = {}
        self.connection_limit = _fit_open_files(connections)
        adjustments = Adjustments(
            host=host,
            port=port,
            threads=threads,
            backlog=BACKLOG,
            # waitress refuses a declared length >= its cap with 413, before reading the body;
            # each route checks its own, smaller cap.
            max_request_body_size=routes.max_body_bytes + 1,
            channel_timeout=IDLE_TIMEOUT_SECONDS,
            connection_limit=self.connection_limit,
            # select() fails beyond 1024 descriptors; poll() has no such limit.
            asyncore_use_poll=True,
        )
        # waitress reads both as whole seconds; set afterwards they may be shorter. Its loop wakes
        # at least this often to run the pass, which it runs only while the loop is awake.
        adjustments.cleanup_interval = adjustments.asyncore_loop_timeout = deadlines.sweep_seconds()  # type: ignore[assignment]
        if len(adjustments.listen) != 1:  # several sockets only when asked for several
            raise TypeError("expected one listening socket")
        try:
            self._server = DeadlineServer(routes, map=self._map, adj=adjustments, deadlines=deadlines)
        except OSError as error:
            raise PortUnavailableError(f"cannot listen on port {port}: {error.strerror or error}") from None
        self.port = int(self._server.getsockname()[1])
        self._thread = threading.Thread(target=self._run, name="http-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, grace_seconds: float) -> bool:
        """Stop accepting, let requests under way finish (up to `grace_seconds`), then close.
        True when every request under way got its answer."""
        self._in_loop(self._close_listener)
        deadline = time.monotonic() + grace_seconds
        while self.busy() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        finished = not self.busy()
        if not finished:
            log.warning("requests still under way after %.0f s; closing them", grace_seconds)
        # Closing every channel (and the trigger) empties waitress's socket map, which ends its loop.
        self._in_loop(lambda: wasyncore.close_all(self._map))
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=5)
        # Idle threads exit at once; give them a second even when the grace period is spent.
        self._server.task_dispatcher.shutdown(timeout=math.ceil(max(1.0, deadline - time.monotonic())))
        return finished

    def busy(self) -> bool:
        """Whether any connection is receiving a request, has one queued or running, or has an
        answer not yet sent. Idle keep-alive connections are not busy, nor are requests past their
        deadline (a slow client does not hold up the stop)."""
        channels = cast(dict[int, HTTPChannel], self._server.active_channels)
        now = time.monotonic()
        return any(
            channel.requests
            or channel.total_outbufs_len
            or (channel.request is not None and not _overdue(channel, self._server.deadlines, now))
            for channel in list(channels.values())
        )

    # -- plumbing -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:
            log.exception("the HTTP server stopped unexpectedly")

    def _in_loop(self, action: Callable[[], object]) -> None:
        """Run `action` on waitress's I/O thread (its socket map is not thread-safe) and wait for it."""
        if not self._thread.is_alive():
            action()
            return
        done = threading.Event()

        def run() -> None:
            try:
                action()
            finally:
                done.set()

        # The type stubs have the thunk take an argument; waitress calls it with none.
        trigger = cast(Any, self._server.trigger)
        trigger.pull_trigger(run)
        if not done.wait(timeout=5):
            log.warning("the HTTP server's loop did not answer; closing anyway")

    def _close_listener(self) -> None:
        self._server.accepting = False
        wasyncore.dispatcher.close(self._server)


def _overdue(channel: HTTPChannel, deadlines: ReadDeadlines, now: float) -> bool:
    return isinstance(channel, DeadlineChannel) and channel.overdue(deadlines, now)


def _fit_open_files(wanted: int) -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    limit = connection_limit(wanted, soft, DESCRIPTOR_RESERVE)
    if limit < wanted:
        log.warning(
            "serving at most %d connections at once, not %d: the open-files limit (ulimit -n) is %d; "
            "raise it to %d",
            limit,
            wanted,
            soft,
            wanted + DESCRIPTOR_RESERVE,
        )
    return limit

"""Health probes for an orchestrator, served in both modes.

`GET /healthz`: the process is up and serving (200). `GET /readyz`: this replica can do its job
(200), or why not (503, one reason a line). The reasons come from `Bot.readiness_problems()`, which
never names a secret or the database URL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.web.routes import Request, Response, Route

log = logging.getLogger(__name__)

Readiness = Callable[[], list[str]]
Notices = Callable[[], list[str]]


class ReadinessCheck:
    """Runs the readiness check for one probe at a time.

    A database that drops packets can hold a check for minutes (TCP's connect timeout). Probes keep
    coming every few seconds; each waiting on the database would take a server thread from Slack. So
    a probe arriving while a check runs is answered at once: not ready, and for how long it has run.
    """

    def __init__(self, readiness: Readiness, clock: Callable[[], float] = time.monotonic) -> None:
        self._readiness = readiness
        self._clock = clock
        self._running = threading.Lock()
        self._started = 0.0
        # Probes come every few seconds: log when the answer changes, not on every probe.
        self._last_problems: list[str] = []

    def problems(self) -> list[str]:
        if not self._running.acquire(blocking=False):
            waited = self._clock() - self._started
            return [f"the previous readiness check has not finished after {waited:.0f} s"]
        try:
            self._started = self._clock()
            problems = self._readiness()
        finally:
            self._running.release()
        if problems != self._last_problems:
            self._last_problems = problems
            if problems:
                log.warning("not ready: %s", "; ".join(problems))
            else:
                log.info("ready again")
        return problems


def health_routes(readiness: Readiness, notices: Notices = list) -> list[Route]:
    """`notices`: what an operator must know that does not make the replica unready (a delivery
    paused on a refused key: submissions are still taken and kept), listed under the answer."""
    check = ReadinessCheck(readiness)

    def healthz(request: Request) -> Response:
        return Response.text(200, "ok")

    def readyz(request: Request) -> Response:
        problems = check.problems()
        try:
            lines = [f"- {notice}" for notice in notices()] if not problems else []
        except Exception:
            log.debug("could not read the readiness notices", exc_info=True)
            lines = []
        if not problems:
            return Response.text(200, "\n".join(["ready", *lines]))
        return Response.text(503, "not ready:\n" + "\n".join(f"- {problem}" for problem in problems))

    return [Route("GET", "/healthz", healthz), Route("GET", "/readyz", readyz)]

"""Bot processes for the tests, forked from a process that has already imported the bot.

Starting `productlane-slack` costs ~0.45 s of CPU before it connects, nearly all of it importing
Bolt, SQLAlchemy, pydantic and the bot; the suite starts about a hundred bots, on 2 cores. A fork
server per test worker imports all of that once; each bot is then a fork of it that runs the same
`main()` the `productlane-slack` command runs, with the test's environment, working directory and
log, in a process of its own (signals, `kill -9`, exit statuses and restarts behave as they do for
the command). Tests that are about the command's start (its imports, the docs' commands) still
`exec` it, and `TESTS_BOT_EXEC=1` makes every test do so. Commands run to their end
(`productlane-slack check`, `channels import`, …) are forked the same way.

The bot is a grandchild of the fork server whose parent exits at once, so it is adopted by the test
worker (a child subreaper, prctl PR_SET_CHILD_SUBREAPER), which waits for it like any child.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from tests import tiers

PR_SET_CHILD_SUBREAPER = 36
ROOT = Path(__file__).resolve().parent.parent


class ForkedBot:
    """The little of `subprocess.Popen` the tests use, for a bot this process adopted."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["productlane-slack"], timeout or 0)
            time.sleep(0.005)
        assert self.returncode is not None  # poll set it
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """One per test worker, started on its first bot; it ends with the worker (its stdin closes)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self._lock = threading.Lock()
        self._server = subprocess.Popen(
            [sys.executable, "-c", "from tests.bot_forkserver import serve; serve()"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(
        self, argv: list[str], env: Mapping[str, str], cwd: Path, log: Path, errors: Path | None = None
    ) -> ForkedBot:
        errors = errors or log
        for output in (log, errors):
            output.write_bytes(b"")  # there at once (a test may read it before the bot writes), empty
        request = {"argv": argv, "env": dict(env), "cwd": str(cwd), "log": str(log), "errors": str(errors)}
        with self._lock:
            stdin, stdout = self._pipes()
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            answer = stdout.readline()
        if not answer.strip().isdigit():
            raise RuntimeError(f"the bot fork server did not start a bot: {answer!r}")
        return ForkedBot(int(answer))

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._server.stdin is not None
        assert self._server.stdout is not None
        return self._server.stdin, self._server.stdout


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_bot(
    argv: list[str], env: Mapping[str, str], cwd: Path, log: Path, errors: Path | None = None
) -> ForkedBot:
    """A bot started as `productlane-slack argv…` would be, from this worker's fork server: its
    output to `log` (its standard error too, unless `errors` names a file for it)."""
    global _server
    tiers.may_start(f"productlane-slack {' '.join(argv)}".strip())
    with _server_lock:
        if _server is None:
            _server = ForkServer()
    return _server.start(argv, env, cwd, log, errors)


def forking_wanted() -> bool:
    return os.environ.get("TESTS_BOT_EXEC") != "1" and sys.platform == "linux"


# --- the fork server's side ----------------------------------------------------------------------


def serve() -> None:
    """Import what the bot runs on, then fork a bot for each request line until stdin ends."""
    # What the fork server imported stays as it is in every bot: without the collector running here
    # (no freed holes among it) and frozen (a bot's collections never write to it), a bot copies
    # fewer of its pages: ~0.05 s of CPU less a bot.
    gc.disable()
    import_the_bot()
    gc.freeze()
    for line in sys.stdin:
        request: dict[str, Any] = json.loads(line)
        read, write = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(read)
            bot = os.fork()
            if bot == 0:
                os.close(write)
                _become_the_bot(request)  # never returns
            os.write(write, f"{bot}\n".encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as answer:
            pid = answer.readline().strip()
        os.waitpid(middle, 0)  # the bot is now the test worker's (the subreaper's) child
        sys.stdout.write(pid + "\n")
        sys.stdout.flush()
    # Its worker is done: nothing to flush or close, and freeing everything imported would cost
    # a fifth of a second of CPU for nothing.
    os._exit(0)


def import_the_bot() -> None:
    """Everything a running bot imports, and what it imports later on (httpx on its first request,
    prometheus-client on the first scrape, the PostgreSQL driver when the tests have a server): a
    fork has it all already. Without TEST_DATABASE_URL no test bot uses PostgreSQL, and its driver
    and dialect (~0.12 s of CPU) are left out."""
    import httpx  # noqa: F401
    import prometheus_client  # noqa: F401
    import slack_bolt.adapter.socket_mode  # noqa: F401
    import sqlalchemy.dialects.sqlite

    if os.environ.get("TEST_DATABASE_URL"):
        import psycopg  # noqa: F401
        import sqlalchemy.dialects.postgresql  # noqa: F401

    import bot.__main__
    import bot.app
    import bot.runtime  # noqa: F401


def _become_the_bot(request: dict[str, Any]) -> None:
    gc.enable()
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND)
    errors = os.open(request["errors"], os.O_WRONLY | os.O_APPEND)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.dup2(log, 1)
    os.dup2(errors, 2)
    os.closerange(3, 1024)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["productlane-slack", *request["argv"]]
    from bot.__main__ import main

    status = main(request["argv"])
    # The command's exit, less the interpreter's teardown: non-daemon threads are joined and the
    # atexit handlers run (logging flushes its files) as at any exit; then the process ends without
    # freeing every object of the bot and its libraries one by one, which costs about 0.2 s of CPU
    # and 0.25 s a bot (the suite forks some seventy) and shows nowhere: the bot has closed its
    # database, its connections and its log by then. Tests about the command's own exit run the
    # command (test_runtime, the doc test, TESTS_BOT_EXEC=1).
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)

"""pytest-xdist's workers, forked from a process that has already imported what they all import.

Every worker imports the bot, SQLAlchemy, pydantic, slack_sdk, hypothesis and pytest before it can
collect a test: ~0.6 s of CPU each, 8 workers a run on 2 cores, and the fast tier's workers spend a
fifth of their run that way. The controller starts this server once (`start`); it imports all of it
and waits. Each worker xdist starts is `python tests/worker_forkserver.py` (`pythonspec`) instead of
`python`: that small process hands its standard input, output and error to the server and waits; the
server forks a worker onto them, which runs execnet's bootstrap as `python -c` would, and tells it
the worker's exit status when it ends. Without the server (it failed, or `TESTS_WORKER_EXEC=1`), a
worker starts as usual.

The server also imports the run's test modules and conftests as pytest does (rewritten for its
assert messages, from the same cached files), and has hypothesis read the project's constants: ~0.5 s
of each worker's ~0.9 s of collection CPU.
It does so with a pytest run of its own that stops at the modules, building no test from them, so
that nothing a test is built from (a parametrize's values, which may be an iterator) is used up
before the workers build theirs. On a fresh clone, before the files are written
(conftest's `_rewrite_once`), it does not: the workers import them as before.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

SOCKET_VARIABLE = "TESTS_WORKER_FORKSERVER"


def client(argv: list[str]) -> None:
    """Run `python argv…` (execnet's `-u -c bootstrap`) as a fork of the server, or as itself."""
    path = os.environ.get(SOCKET_VARIABLE, "")
    # Ctrl-C reaches the worker too (one process group): it ends, and then so does this.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(path)
        socket.send_fds(connection, ["\0".join(argv).encode()], [0, 1, 2])
        status = connection.recv(16)
    except OSError:
        os.execv(sys.executable, [sys.executable, *argv])  # noqa: S606 - no server: start as xdist would
    os._exit(int(status or b"1"))


if __name__ == "__main__":
    client(sys.argv[1:])


# --- the controller's side -------------------------------------------------------------------------
# Below the client: it runs the lines above and nothing else, so it starts in a few milliseconds.

import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import selectors  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# A pytest run that only imports: one process, the files' own order, nothing cached.
COLLECT_ONLY = ("--collect-only", "-q", "-n", "0", "-p", "no:randomly", "-p", "no:cacheprovider")


def unwritten_test_modules(root: Path) -> list[Path]:
    """The test modules under root/tests with no rewritten file of pytest's cached yet."""
    import pytest

    tag = f"{sys.implementation.cache_tag}-pytest-{pytest.__version__}"
    return [
        path
        for path in sorted((root / "tests").rglob("test_*.py"))
        if not (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").exists()
    ]


def start(test_arguments: list[str] | tuple[str, ...] = ()) -> subprocess.Popen[bytes] | None:
    """Start the server and point the workers at it (through the environment they inherit); None
    when it did not come up, and the workers start as usual. It imports the test modules a pytest
    run with ``test_arguments`` collects (none without)."""
    if os.environ.get("TESTS_WORKER_EXEC") == "1" or sys.platform != "linux":
        return None
    path = os.path.join(tempfile.mkdtemp(prefix="pytest-workers-"), "socket")
    arguments = json.dumps(list(test_arguments))
    server = subprocess.Popen(
        [sys.executable, "-c", f"from tests.worker_forkserver import serve; serve({path!r}, {arguments!r})"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None
    if server.stdout.readline() != b"ready\n":
        server.kill()
        server.wait()
        return None
    os.environ[SOCKET_VARIABLE] = path
    return server


def pythonspec() -> str:
    """What xdist is to run as the workers' Python."""
    return f"{sys.executable} {Path(__file__).resolve()}"


def stop(server: subprocess.Popen[bytes]) -> None:
    path = os.environ.pop(SOCKET_VARIABLE, None)
    if server.stdin is not None:
        server.stdin.close()  # the server ends when its input does
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    if path is not None:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


# --- the server's side -----------------------------------------------------------------------------


def serve(path: str, test_arguments: str = "[]") -> None:
    """Import what every worker imports, then fork a worker for each client until stdin ends.
    ``test_arguments``: the run's paths and marks, as JSON."""
    # Listening first: the controller goes on at once, and a worker that comes before the imports
    # are done waits in the backlog for them.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the workers' (and the controller's)
    gc.disable()
    with contextlib.suppress(Exception):  # each worker imports it again and reports the error
        _import_what_workers_share()
    with contextlib.suppress(Exception):  # the same
        _import_the_test_modules(json.loads(test_arguments))
    gc.freeze()
    clients: dict[int, socket.socket] = {}  # a worker's pid: the client waiting for its status
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin.buffer, selectors.EVENT_READ)
    running = True
    while running or clients:
        for key, _events in selector.select(timeout=0.05 if clients else None):
            if key.fileobj is listener:
                connection, _address = listener.accept()
                message, fds, _flags, _address = socket.recv_fds(connection, 1 << 16, 3)
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    _become_the_worker(message.decode().split("\0"), fds)  # never returns
                for fd in fds:
                    os.close(fd)
                clients[pid] = connection
            elif running:  # the controller closed our input: it is done
                selector.unregister(sys.stdin.buffer)
                running = False
        while clients:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = clients.pop(pid)
            connection.sendall(str(os.waitstatus_to_exitcode(status) & 0xFF).encode())
            connection.close()
    os._exit(0)


def _import_what_workers_share() -> None:
    """What every worker imports before its first test, except what pytest rewrites: what a bot
    runs on, and the libraries the tests add."""
    import execnet  # noqa: F401
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
    import respx  # noqa: F401
    import websockets.sync.client
    import websockets.sync.server  # noqa: F401
    import yaml  # noqa: F401

    import bot.check
    import bot.tables  # noqa: F401
    from tests.bot_forkserver import import_the_bot

    import_the_bot()


def _import_the_test_modules(arguments: list[str]) -> None:
    """The test modules (and conftests) a pytest run with ``arguments`` collects, imported as a
    worker's pytest would."""
    if not arguments or unwritten_test_modules(ROOT):
        return
    import pytest

    class ImportOnly:
        """Collection stops at each module: no test is built from it."""

        @pytest.hookimpl(tryfirst=True)
        def pytest_pycollect_makeitem(self) -> list[pytest.Item]:
            return []

    # Quiet: standard output is the controller's pipe, which it no longer reads.
    saved = [os.dup(1), os.dup(2)]
    quiet = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        pytest.main([*COLLECT_ONLY, *arguments], plugins=[ImportOnly()])
        # Hypothesis reads the constants of every module of the project once per process, as the
        # first property test is collected (~0.1 s of each worker's CPU): read here, the workers
        # read only the modules they import themselves. Its own pytest plugin calls this, as a
        # run's items are known; no item is built here.
        from hypothesis.internal.conjecture import providers

        read_local_constants = getattr(providers, "_get_local_constants", None)
        if callable(read_local_constants):
            read_local_constants()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for target, fd in enumerate(saved, start=1):
            os.dup2(fd, target)
            os.close(fd)
        os.close(quiet)


def _become_the_worker(argv: list[str], fds: list[int]) -> None:
    """Run `python argv…` here, on the client's standard input, output and error."""
    code = 0
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        gc.enable()
        # What `python -u -c source` would be: the flags go, the source runs as __main__.
        source = argv[argv.index("-c") + 1]
        sys.argv = ["-c", *argv[argv.index("-c") + 2 :]]
        main = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(source, "<string>", "exec"), main)  # noqa: S102 - what `python -c` does
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # closed by the worker: nothing left to flush
                stream.flush()
        os._exit(code)

"""The test workers' fork server (tests/worker_forkserver.py): a worker forked from it runs as
`python -c` would, on its own standard input and output, and its client ends with its exit status;
without the server the client runs Python itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests import worker_forkserver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ECHO_BACKWARDS = "import sys; print(sys.stdin.readline().strip()[::-1]); sys.exit(3)"


@pytest.fixture
def server() -> Iterator[None]:
    started = worker_forkserver.start()
    assert started is not None
    try:
        yield
    finally:
        worker_forkserver.stop(started)


def run_client() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*worker_forkserver.pythonspec().split(), "-u", "-c", ECHO_BACKWARDS],
        input="worker\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_worker_forked_from_the_server_uses_the_clients_streams_and_exit_status(server: None) -> None:
    answer = run_client()
    assert (answer.stdout, answer.returncode) == ("rekrow\n", 3), answer.stderr


def test_without_the_server_the_client_runs_python_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, worker_forkserver.SOCKET_VARIABLE, "/nonexistent/socket")
    answer = run_client()
    assert (answer.stdout, answer.returncode) == ("rekrow\n", 3), answer.stderr


def test_the_server_ends_with_its_controller() -> None:
    started = worker_forkserver.start()
    assert started is not None
    worker_forkserver.stop(started)
    assert started.returncode == 0
    assert worker_forkserver.SOCKET_VARIABLE not in os.environ
    assert sys.executable in worker_forkserver.pythonspec()


def test_a_worker_finds_the_test_modules_imported_and_collects_what_pytest_alone_does() -> None:
    paths = ["tests/test_settings.py", "tests/render/test_mrkdwn.py"]  # both with parametrized tests
    collect = [*worker_forkserver.COLLECT_ONLY, "-v", *paths]  # -v: each test's id, not a count
    in_a_worker = (
        "import sys, pytest, hypothesis\n"
        "module = sys.modules.get('tests.test_settings')\n"
        "print('imported and rewritten:', module is not None and '@py_builtins' in vars(module))\n"
        # The fast tier's hypothesis profile, which a module's @settings take their defaults from
        # as it is imported, was loaded before the modules were.
        "print('examples:', hypothesis.settings.default.max_examples)\n"
        f"sys.exit(pytest.main({collect!r}))\n"
    )
    started = worker_forkserver.start(["-m", "not e2e", *paths])
    assert started is not None
    try:
        worker = subprocess.run(
            [*worker_forkserver.pythonspec().split(), "-u", "-c", in_a_worker],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        worker_forkserver.stop(started)
    alone = subprocess.run(
        [sys.executable, "-m", "pytest", *collect], capture_output=True, text=True, timeout=60, check=False
    )
    assert worker.returncode == alone.returncode == 0, worker.stderr + alone.stderr
    assert worker.stdout.startswith("imported and rewritten: True\nexamples: 25\n"), worker.stdout
    tests = [line for line in alone.stdout.splitlines() if "::" in line]
    assert len(tests) > 100
    assert [line for line in worker.stdout.splitlines() if "::" in line] == tests

"""The two tiers of the suite: `uv run pytest` runs everything; `uv run pytest -m "not e2e"` is the
inner loop, seconds long, for the code under test in this process.

A test is `e2e` (pytest.mark.e2e) when it starts a process: the bot (forked or the command), one of
its commands, a second Python. That is where the suite's time goes (each bot costs a fraction of a
second of CPU to start and seconds of waiting on it). Starting one from a test without the marker
fails at once, so the fast tier stays fast: mark the test or its module.
"""

from __future__ import annotations

# The test running now in this process, when it is not marked e2e (set by tests/conftest.py).
_unmarked_test: str | None = None


def running(test: str | None) -> None:
    global _unmarked_test
    _unmarked_test = test


def may_start(what: str) -> None:
    """Raise when the running test starts `what` (a process) without being marked e2e."""
    if _unmarked_test is not None:
        raise AssertionError(
            f"{_unmarked_test} starts {what}, but is not marked e2e: "
            "add pytest.mark.e2e to it (or to its module's pytestmark)"
        )

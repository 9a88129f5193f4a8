"""Start-up stays lean: a bot on SQLite in socket mode loads neither the PostgreSQL dialect nor its
driver, and the big tables and clients (emoji, the HTML sanitizer, httpx, the metrics' format)
wait for first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # a Python process of its own: a fresh import

NOT_AT_START = (
    "psycopg",
    "sqlalchemy.dialects.postgresql",
    "emoji",
    "nh3",
    "httpx",
    "waitress",  # socket mode starts its probe server only after the connected line
    "prometheus_client",  # made into Prometheus' format on the first scrape of /metrics
)


def test_importing_the_bot_loads_nothing_it_does_not_need_yet() -> None:
    code = (
        "import sys, bot.__main__, bot.runtime, bot.app; "
        f"print(' '.join(m for m in {NOT_AT_START!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []


def test_httpx_comes_without_its_command_line() -> None:
    # Beside dev tools click, rich and pygments are installed, and httpx would import them all.
    code = (
        "import sys, bot.__main__, httpx; "
        "print(' '.join(m for m in ('httpx._main', 'click', 'rich', 'pygments') if sys.modules.get(m)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []

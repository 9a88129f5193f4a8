"""The databases the tests run on: SQLite always, PostgreSQL when TEST_DATABASE_URL names one.

Apart from tests/databases.py (which opens them) so that the controller can say what ran without
importing the bot's tables."""

from __future__ import annotations

import os

NO_PG = 'TEST_DATABASE_URL is not set (eval "$(bash .ci/postgres.sh)" starts a server)'

# What a test "on each database" runs on. Without TEST_DATABASE_URL its PostgreSQL variant is not
# built at all rather than built and skipped: 151 of them in the fast tier, each collected by every
# worker and then skipped one by one (~0.7 s of CPU in a run of ~25 s). conftest says at the end of
# the run that they did not run, and why; CI's full run sets it and runs both.
BACKENDS: tuple[str, ...] = ("sqlite", "postgresql") if os.environ.get("TEST_DATABASE_URL") else ("sqlite",)

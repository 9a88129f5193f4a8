"""The pace the tests run the bot at, where a test is not about the pace itself.

The bot keeps Productlane's pace (PRODUCTLANE_WRITES_PER_MINUTE, 60 by default: a write a second)
and waits out leases (DELIVERY_LEASE_SECONDS) as it should in production; a test that files a dozen
submissions, or restarts a bot after a `kill -9`, would spend most of its time waiting on them. Tests
run the bot at these instead; a test about the pace sets Productlane's own (and asserts a lower
bound on the gaps: a busy machine only adds time).
"""

from __future__ import annotations

from collections.abc import Iterator

# The setting's highest: a write every 10 ms.
TEST_WRITES_PER_MINUTE = 6000
# The same for file uploads (PRODUCTLANE_UPLOADS_PER_MINUTE, 29 by default: one every 2 s), which a
# module's shared bot would otherwise make each test that copies a file wait for.
TEST_UPLOADS_PER_MINUTE = 6000
# A bot killed mid-send leaves its items to the next start after this (20 by default). Not the
# setting's lowest (1): a sender on a busy machine can stall for a second, and a lease that lapses
# under a live sender makes a restart test prove the duplicate guard instead of the lease.
TEST_LEASE_SECONDS = 2

# How long a test waits for something that must happen (a call, an ack) before calling it lost:
# never a claim about speed, so generous enough for a machine busy with other work.
PATIENCE = 30.0


def polls(first: float = 0.001, longest: float = 0.02) -> Iterator[float]:
    """The pauses between looks at a condition a test waits for: short at first (most hold within
    a few milliseconds, and a fixed 20 ms pause made each such wait 10 ms longer on average, over a
    thousand tests), doubling up to `longest` so a long wait does not spin."""
    pause = first
    while True:
        yield pause
        pause = min(longest, pause * 2)

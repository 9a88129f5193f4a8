"""New feedback goes first: follow-ups share Productlane's 60 writes a minute with new threads, and
take a write only while no new thread waits for one.

The delivery worker and the follow-up sender take their writes from the same limiter
(`WriteLimits`, one key per workspace), one a second. Before each write (a comment, a PATCH, an
upload of a follow-up's file) the sender asks whether a submission is due or being sent — one
indexed read of the outbox — and holds back while one is. A new thread can then be delayed only by
the one write a follow-up took just before it arrived: at most one second.
"""

from __future__ import annotations

from bot.delivery.outbox import Outbox
from bot.delivery.submissions import Submissions

__all__ = ["NewFeedbackFirst"]


class NewFeedbackFirst:
    """``waiting()``: whether a submission needs Productlane's write budget now."""

    def __init__(self, outbox: Outbox) -> None:
        self._submissions = Submissions(outbox)

    def waiting(self) -> bool:
        return self._submissions.new_feedback_waiting()

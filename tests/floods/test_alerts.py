"""Telling the admins that a channel went over: each admin once per channel that went over, from a
thread of its own; nobody to tell, or Slack refusing one of them, is logged and nothing else fails."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bot.floods import FloodAlerts, Scope
from bot.slack.replies import SlackReply
from tests.running_bot import wait_until


def test_each_admin_gets_one_direct_message_per_channel_that_went_over() -> None:
    sent: list[tuple[str, str]] = []
    done = threading.Event()

    def direct(user_id: str, reply: SlackReply) -> object:
        sent.append((user_id, reply.text))
        if len(sent) == 4:
            done.set()
        return object()

    alerts = FloodAlerts(lambda: ["U2", "U1", "U1"], direct, retention_days=90)
    alerts.went_over(Scope.AUTOMATIC, "C1", "more than 20 new threads by one author in an hour")
    alerts.went_over(Scope.FOLLOWUP, "C2", "more than 600 follow-ups in one channel in an hour")
    wait_until(done.is_set, "four messages")
    alerts.stop()
    assert [user for user, _ in sent] == ["U1", "U2", "U1", "U2"]
    assert "<#C1> went over a flood limit: more than 20 new threads" in sent[0][1]
    assert "its follow-ups over the limit are *held*" in sent[2][1]


def test_nobody_to_tell_or_slack_refusing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(user_id: str, reply: SlackReply) -> Any:
        raise OSError("no route")

    for admins in (list[str](), ["U1"]):
        alerts = FloodAlerts(lambda admins=admins: admins, refuse, retention_days=90)  # type: ignore[misc]
        alerts.went_over(Scope.AUTOMATIC, "C1", "over")
        alerts.stop()
    assert "no admin to tell: set FEEDBACK_ADMINS" in caplog.text
    assert "could not tell admin U1 about the flood in C1: OSError" in caplog.text
    assert "0 admin(s) told" in caplog.text

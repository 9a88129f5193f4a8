"""Telling the admins that a channel went over: each admin once per channel that went over, from a
thread of its own; nobody to tell, or Slack refusing one of them, is logged and nothing else fails."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bot.floods import AlertRetry, FloodAlerts, Scope
from bot.slack.admins import AdminsToTell, WorkspaceAdmins
from bot.slack.lookups import SlackLookups, SlackUser
from bot.slack.replies import SlackReply
from tests.pace import PATIENCE
from tests.running_bot import wait_until


def test_each_admin_gets_one_direct_message_per_channel_that_went_over() -> None:
    sent: list[tuple[str, str]] = []
    done = threading.Event()

    def direct(user_id: str, reply: SlackReply) -> object:
        sent.append((user_id, reply.text))
        if len(sent) == 4:
            done.set()
        return object()

    alerts = FloodAlerts(lambda: AdminsToTell(("U2", "U1", "U1")), direct, retention_days=90)
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

    for admins in ((), ("U1",)):
        alerts = FloodAlerts(lambda admins=admins: AdminsToTell(admins), refuse, retention_days=90)  # type: ignore[misc]
        alerts.went_over(Scope.AUTOMATIC, "C1", "over")
        alerts.stop()
    assert "no admin to tell: set FEEDBACK_ADMINS" in caplog.text
    assert "could not tell admin U1 about the flood in C1: OSError" in caplog.text
    assert "0 admin(s) told" in caplog.text


class Direct:
    """Who got which alert, by channel."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, user_id: str, reply: SlackReply) -> object:
        with self.lock:
            self.sent.append((user_id, reply.text.split(">")[0].removeprefix(":warning: <#")))
        return object()

    def to(self, user_id: str) -> list[str]:
        with self.lock:
            return [channel for user, channel in self.sent if user == user_id]


class FailingUsersList(SlackLookups):
    """users.list refused (a 429) until ``answers`` is set."""

    def __init__(self) -> None:
        self.answers: list[SlackUser] | None = None
        self.asked = 0

    def people_who_admin(self, pages: int = 50) -> list[SlackUser]:
        self.asked += 1
        if self.answers is None:
            raise OSError("429 ratelimited")
        return self.answers


class SlowlyFailingUsersList(FailingUsersList):
    """The first users.list is refused only once ``fail`` is set; the next ones as above."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = threading.Event()

    def people_who_admin(self, pages: int = 50) -> list[SlackUser]:
        if self.asked == 0:
            self.asked += 1
            self.fail.wait(PATIENCE)
            raise OSError("429 ratelimited")
        return super().people_who_admin(pages)


def workspace_admin() -> SlackUser:
    return SlackUser("U0WSADMIN1", "ws", "WS", None, "T0ACME0001", is_bot=False, is_admin=True)


def test_when_users_list_fails_the_named_admins_hear_at_once_and_the_rest_on_a_retry() -> None:
    lookups = FailingUsersList()
    admins = WorkspaceAdmins(lookups, ["U0NAMED001"], "T0ACME0001")
    direct = Direct()
    alerts = FloodAlerts(admins.to_tell, direct, 90, AlertRetry(first_seconds=0.05, longest_seconds=0.2))
    alerts.went_over(Scope.AUTOMATIC, "C1", "over")
    wait_until(lambda: direct.to("U0NAMED001") == ["C1"], "the named admin told at once")
    wait_until(lambda: lookups.asked >= 3, "users.list asked again")
    assert alerts.owed() == ["C1"], "the alert is still owed to the workspace's admins"
    lookups.answers = [workspace_admin()]
    wait_until(lambda: direct.to("U0WSADMIN1") == ["C1"], "the workspace admin told on a retry")
    wait_until(lambda: alerts.owed() == [], "nothing owed")
    alerts.stop()
    assert direct.to("U0NAMED001") == ["C1"], "never told twice"


def alerts_retried_in_an_hour(lookups: SlackLookups, direct: Direct) -> FloodAlerts:
    """Alerts to the workspace's admins whose next retry is an hour away: only the next hold can
    bring it sooner."""
    admins = WorkspaceAdmins(lookups, [], "T0ACME0001")
    return FloodAlerts(admins.to_tell, direct, 90, AlertRetry(first_seconds=3600, longest_seconds=3600))


def test_an_alert_still_owed_is_tried_again_when_the_channel_holds_another_message() -> None:
    lookups = FailingUsersList()
    direct = Direct()
    alerts = alerts_retried_in_an_hour(lookups, direct)
    alerts.went_over(Scope.FOLLOWUP, "C1", "over")
    wait_until(lambda: lookups.asked == 1 and alerts.owed() == ["C1"], "the first try failed")
    lookups.answers = [workspace_admin()]
    alerts.held_again("C2")  # another channel: not this alert
    alerts.held_again("C1")
    wait_until(lambda: direct.to("U0WSADMIN1") == ["C1"], "told on the next hold")
    alerts.stop()
    assert direct.sent == [("U0WSADMIN1", "C1")]


def test_a_message_held_while_the_alert_is_being_told_brings_its_retry_forward() -> None:
    lookups = SlowlyFailingUsersList()
    direct = Direct()
    alerts = alerts_retried_in_an_hour(lookups, direct)
    alerts.went_over(Scope.FOLLOWUP, "C1", "over")
    wait_until(lambda: lookups.asked == 1, "the first try under way")
    alerts.held_again("C1")
    lookups.answers = [workspace_admin()]
    lookups.fail.set()  # the try under way fails after the hold: the retry is not an hour away
    wait_until(lambda: direct.to("U0WSADMIN1") == ["C1"], "told right after the failed try")
    alerts.stop()
    assert direct.sent == [("U0WSADMIN1", "C1")]


def test_to_tell_falls_back_to_the_named_admins() -> None:
    lookups = FailingUsersList()
    admins = WorkspaceAdmins(lookups, ["U0NAMED001"], "T0ACME0001")
    assert admins.to_tell() == AdminsToTell(("U0NAMED001",), complete=False)
    lookups.answers = [workspace_admin()]
    assert admins.to_tell() == AdminsToTell(("U0NAMED001", "U0WSADMIN1"))

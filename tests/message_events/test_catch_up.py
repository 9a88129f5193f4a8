"""When the bot reads channels back from Slack after an outage, and what it hands on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.message_events.catch_up import MARGIN_SECONDS, CatchUp
from bot.message_events.interest import Interest


class History:
    """conversations.history / .replies over a few stored messages (newest first, as Slack)."""

    def __init__(self, messages: dict[str, list[dict[str, Any]]]) -> None:
        self.messages = messages
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def conversations_history(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("history", params))
        found = [m for m in self.messages[params["channel"]] if float(m["ts"]) > float(params["oldest"])]
        return {"ok": True, "messages": sorted(found, key=lambda m: -float(m["ts"])), "has_more": False}

    def conversations_replies(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("replies", params))
        thread = [m for m in self.messages[params["channel"]] if m.get("thread_ts") == params["ts"]]
        later = [m for m in thread if m["ts"] == params["ts"] or float(m["ts"]) > float(params["oldest"])]
        return {"ok": True, "messages": sorted(later, key=lambda m: float(m["ts"])), "has_more": False}


PARENT = "1799999000.000000"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def catch_up_over(history: History, clock: Clock, handed: list[Mapping[str, Any]]) -> CatchUp:
    interest = Interest()
    interest.set_automatic_channels(["C1"])
    interest.follow("C2", PARENT)
    return CatchUp(history, interest, handed.append, "T1", min_outage_seconds=30, clock=clock)  # type: ignore[arg-type]


def test_an_outage_shorter_than_slacks_retries_reads_nothing_back() -> None:
    history, clock = History({"C1": [], "C2": []}), Clock()
    handed: list[Mapping[str, Any]] = []
    watch = catch_up_over(history, clock, handed)
    watch.failed()
    clock.now += 29
    watch.worked()
    assert history.calls == []


def test_after_a_long_outage_the_channel_and_the_thread_are_handed_on_oldest_first() -> None:
    began = 1_800_000_000.0
    history = History(
        {
            "C1": [
                {"type": "message", "user": "U1", "ts": f"{began - 3600:.6f}", "text": "long before"},
                {"type": "message", "user": "U1", "ts": f"{began + 10:.6f}", "text": "first"},
                {"type": "message", "user": "U1", "ts": f"{began + 20:.6f}", "text": "second"},
            ],
            "C2": [
                {
                    "type": "message",
                    "user": "U2",
                    "ts": "1799999000.000000",
                    "thread_ts": "1799999000.000000",
                },
                {
                    "type": "message",
                    "user": "U2",
                    "ts": f"{began + 15:.6f}",
                    "thread_ts": "1799999000.000000",
                },
            ],
        }
    )
    clock = Clock()
    handed: list[Mapping[str, Any]] = []
    watch = catch_up_over(history, clock, handed)
    done = watch.catch_up(began - MARGIN_SECONDS)

    assert (done.channels, done.threads, done.messages) == (1, 1, 3)
    assert [payload["event"].get("text") for payload in handed[:2]] == ["first", "second"]
    reply = handed[2]
    assert reply["team_id"] == "T1"
    assert reply["event"]["channel"] == "C2"  # the parent, listed first by Slack, is not handed on
    assert reply["event"]["ts"] == f"{began + 15:.6f}"
    assert all(payload["type"] == "event_callback" for payload in handed)

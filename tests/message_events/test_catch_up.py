"""When the bot reads channels back from Slack after an outage, and what it hands on."""

from __future__ import annotations

import time
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
        stored = self.messages[params["channel"]]
        found = [
            {**m, "latest_reply": max(r["ts"] for r in stored if r.get("thread_ts") == m["ts"])}
            if m.get("thread_ts") == m["ts"]
            else m
            for m in stored
            if float(m["ts"]) > float(params["oldest"]) and m.get("thread_ts") in (None, m["ts"])
        ]
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


def catch_up_over(
    history: History, clock: Clock, handed: list[Mapping[str, Any]], *also_followed: str
) -> CatchUp:
    interest = Interest()
    interest.set_automatic_channels(["C1"])
    for thread_ts in (PARENT, *also_followed):
        interest.follow("C2", thread_ts)
    return CatchUp(history, interest, handed.append, "T1", min_outage_seconds=30, clock=clock)  # type: ignore[arg-type]


def test_an_outage_shorter_than_slacks_retries_reads_nothing_back() -> None:
    history, clock = History({"C1": [], "C2": []}), Clock()
    handed: list[Mapping[str, Any]] = []
    watch = catch_up_over(history, clock, handed)
    watch.failed()
    clock.now += 29
    watch.worked()
    assert history.calls == []


def test_a_followed_thread_without_a_reply_since_the_outage_is_not_read() -> None:
    began = 1_800_000_000.0
    quiet = "1799990000.000000"
    history = History(
        {
            "C1": [],
            "C2": [
                {"type": "message", "user": "U2", "ts": PARENT, "thread_ts": PARENT},
                {"type": "message", "user": "U2", "ts": f"{began + 15:.6f}", "thread_ts": PARENT},
                {"type": "message", "user": "U2", "ts": quiet, "thread_ts": quiet},
                {"type": "message", "user": "U3", "ts": "1799990001.000000", "thread_ts": quiet},
            ],
        }
    )
    clock = Clock()
    handed: list[Mapping[str, Any]] = []
    watch = catch_up_over(history, clock, handed, quiet)
    done = watch.catch_up(began - MARGIN_SECONDS)

    assert done.threads == 1
    assert [params["ts"] for kind, params in history.calls if kind == "replies"] == [PARENT]
    assert [payload["event"]["ts"] for payload in handed] == [f"{began + 15:.6f}"]


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


def test_an_outage_no_event_reported_is_noticed_by_the_ping_and_caught_up() -> None:
    # Behind a load balancer that follows /readyz, an unready replica gets no event to fail.
    history, clock = History({"C1": [], "C2": []}), Clock()
    handed: list[Mapping[str, Any]] = []
    watch = catch_up_over(history, clock, handed)

    def away() -> None:
        raise ConnectionError("the database is away")

    watch.tick(away)
    clock.now += 120
    watch.tick(lambda: None)
    deadline = time.monotonic() + 30  # a hang guard, not a speed
    while not history.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("history", {"channel": "C1"}) in [(kind, {"channel": p["channel"]}) for kind, p in history.calls]
    assert min(float(p["oldest"]) for _, p in history.calls) <= 1_800_000_000.0 - MARGIN_SECONDS

"""The message behind a shortcut: where it lives, who wrote it, and whether it can be feedback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from bot.feedback.source import source_from_message_shortcut, why_not_feedback

FIXTURE = Path(__file__).parent.parent / "fixtures" / "slack" / "message_shortcut.json"


def shortcut(**message_changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(FIXTURE.read_text())
    payload["message"] = {**copy.deepcopy(payload["message"]), **message_changes}
    return payload


def test_a_message_becomes_a_source_with_its_channel_author_and_content() -> None:
    source = source_from_message_shortcut(shortcut())
    assert source.channel_id == "C0FEEDBACK"
    assert source.channel_name == "customer-feedback"
    assert source.ts == source.thread_ts == "1764252900.000100"
    assert source.author_id == "U0CUST0003"
    assert not source.author_is_external
    assert set(source.content) == {"text", "blocks"}
    assert why_not_feedback(source, bot_user_id="U0BOT", bot_id="B0BOT") is None


def test_a_reply_keeps_its_parent_thread() -> None:
    source = source_from_message_shortcut(shortcut(ts="1764252999.000200", thread_ts="1764252900.000100"))
    assert source.ts == "1764252999.000200"
    assert source.thread_ts == "1764252900.000100"


def test_an_author_from_another_organization_is_external() -> None:
    source = source_from_message_shortcut(shortcut(user_team="T0CUSTOMER"))
    assert source.author_is_external


def test_the_bots_own_messages_and_system_messages_are_refused_with_a_reason() -> None:
    own = source_from_message_shortcut(shortcut(user="U0BOT", bot_id="B0BOT"))
    assert "my own messages" in (why_not_feedback(own, bot_user_id="U0BOT", bot_id="B0BOT") or "")
    joined = source_from_message_shortcut(shortcut(subtype="channel_join"))
    assert "Slack wrote itself" in (why_not_feedback(joined, bot_user_id=None, bot_id=None) or "")
    empty = source_from_message_shortcut(shortcut(text="", blocks=[]))
    assert "empty" in (why_not_feedback(empty, bot_user_id=None, bot_id=None) or "")


def test_another_bots_message_is_fine() -> None:
    integration = source_from_message_shortcut(shortcut(user=None, bot_id="B0OTHER"))
    assert why_not_feedback(integration, bot_user_id="U0BOT", bot_id="B0BOT") is None


def test_a_parent_with_replies_or_a_reply_is_in_a_thread() -> None:
    alone = source_from_message_shortcut(shortcut())
    assert not alone.in_thread
    assert alone.thread_size is None
    parent = source_from_message_shortcut(shortcut(reply_count=4, thread_ts="1764252900.000100"))
    assert parent.in_thread
    assert parent.thread_size == 5
    reply = source_from_message_shortcut(shortcut(ts="1764253000.000200", thread_ts="1764252900.000100"))
    assert reply.in_thread
    assert reply.thread_size is None

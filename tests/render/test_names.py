"""Resolving mentioned ids: names when known, the id when not, and never an error."""

from __future__ import annotations

from bot.render.message_html import mrkdwn_to_html, rich_text_to_html
from bot.render.names import NO_NAMES, NameResolver, StaticNames

from .helpers import one_section


def test_static_names_answer_from_their_dicts():
    names = StaticNames(users={"U1": "Dana"}, channels={"C1": "general"}, usergroups={"S1": "ops"})
    assert (names.user_name("U1"), names.channel_name("C1"), names.usergroup_handle("S1")) == (
        "Dana",
        "general",
        "ops",
    )
    assert names.user_name("U2") is None


def test_no_names_resolves_nothing():
    assert NO_NAMES.user_name("U1") is None
    assert NO_NAMES.channel_name("C1") is None
    assert NO_NAMES.usergroup_handle("S1") is None


class Failing:
    def user_name(self, user_id: str) -> str | None:
        raise TimeoutError("slack is slow")

    def channel_name(self, channel_id: str) -> str | None:
        raise RuntimeError("nope")

    def usergroup_handle(self, usergroup_id: str) -> str | None:
        return 42  # type: ignore[return-value]  # a resolver that breaks its promise


def test_a_failing_resolver_costs_the_name_not_the_message():
    names: NameResolver = Failing()
    assert mrkdwn_to_html("<@U1> in <#C1> for <!subteam^S1>", names) == "<p>@U1 in #C1 for @S1</p>"


def test_handles_with_or_without_their_sigil_read_the_same():
    names = StaticNames(usergroups={"S1": "@ops", "S2": "ops"}, channels={"C1": "#general"})
    block = one_section(
        {"type": "usergroup", "usergroup_id": "S1"},
        {"type": "text", "text": " "},
        {"type": "usergroup", "usergroup_id": "S2"},
        {"type": "text", "text": " "},
        {"type": "channel", "channel_id": "C1"},
    )
    assert rich_text_to_html(block, names) == "<p>@ops @ops #general</p>"


def test_a_blank_name_falls_back_to_the_id():
    assert mrkdwn_to_html("<@U1>", StaticNames(users={"U1": "  "})) == "<p>@U1</p>"

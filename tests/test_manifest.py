"""manifest.yml and the app agree: every surface the app handles is declared, and vice versa."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.listeners import actions, commands, events, home, shortcuts, views
from bot.slack.ids import MESSAGE_EVENT_SUBSCRIPTIONS, REQUIRED_BOT_SCOPES

MANIFEST = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())


class RecordingApp:
    """Stands in for a Bolt App during register(): records what each listener asks for."""

    def __init__(self) -> None:
        self.registered: dict[str, set[str]] = {"shortcut": set(), "command": set(), "view": set()}

    def _record(self, kind: str, key: str) -> Any:
        self.registered.setdefault(kind, set()).add(key)
        return lambda *args, **kwargs: None

    def shortcut(self, callback_id: str) -> Any:
        return self._record("shortcut", callback_id)

    def command(self, command: str) -> Any:
        return self._record("command", command)

    def view_submission(self, callback_id: str) -> Any:
        return self._record("view", callback_id)

    def action(self, action_id: str) -> Any:
        return self._record("action", action_id)

    def event(self, event_type: str) -> Any:
        return self._record("event", event_type)


def registered() -> dict[str, set[str]]:
    app = RecordingApp()
    for module in (shortcuts, commands, views, actions, events, home):
        module.register(app, services=None)
    return app.registered


def test_every_shortcut_is_both_declared_and_handled() -> None:
    declared = {shortcut["callback_id"] for shortcut in MANIFEST["features"]["shortcuts"]}
    assert declared == registered()["shortcut"]


def test_every_slash_command_is_both_declared_and_handled() -> None:
    declared = {command["command"] for command in MANIFEST["features"]["slash_commands"]}
    assert declared == registered()["command"]


def test_every_event_is_both_subscribed_and_handled() -> None:
    declared = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    # Channel messages are answered before Bolt (bot.message_events), not by a Bolt listener.
    assert declared == registered()["event"] | set(MESSAGE_EVENT_SUBSCRIPTIONS)


def test_the_manifest_asks_for_exactly_the_scopes_the_bot_checks() -> None:
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == set(REQUIRED_BOT_SCOPES)


def test_the_home_tab_is_enabled_for_the_app_home_listener() -> None:
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in registered()["event"]


def test_socket_mode_interactivity_and_no_token_rotation() -> None:
    settings = MANIFEST["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["token_rotation_enabled"] is False
    assert MANIFEST["features"]["bot_user"]["display_name"]

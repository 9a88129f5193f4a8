"""Running bots for the channel settings tests: a replica in socket mode or in HTTP mode (the same
moves either way), an admin, channels, and channel `message` events as Slack sends them."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.slack.ids import CHANNEL_SETTINGS_MODAL, FEEDBACK_COMMAND
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import World, bot_environment, by_field, since, start_bot, wait_until
from tests.web.client import SIGNING_SECRET, payload_body, request, signed_headers

ADMIN = "U0ADMIN001"  # a workspace admin (users.info says so)
MEMBER = "U0CSM0002"  # Dana: in the workspace, not an admin
AUTHOR = "U0CUST0003"  # Jane, who writes in the channels (jane@customer.example)
CHANNEL = "C0FEEDBACK"  # public, the bot is in it


def add_admin(slack: FakeSlack) -> None:
    slack.web.add_user(
        {
            "id": ADMIN,
            "team_id": "T0ACME0001",
            "name": "alex",
            "real_name": "Alex Admin",
            "is_admin": True,
            "is_bot": False,
            "profile": {"real_name": "Alex Admin", "display_name": "alex", "email": "alex@acme.example"},
        }
    )


@dataclass
class Replica:
    """One running bot, driven as Slack drives it in its mode."""

    world: World
    mode: str  # "socket" or "http"
    port: int

    @property
    def slack(self) -> FakeSlack:
        return self.world.slack

    def interactive(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An interactivity request (a view submission…); the bot's answer (the ack's payload)."""
        if self.mode == "socket":
            envelope = self.slack.socket.send_envelope("interactive", payload)
            return dict(self.slack.socket.wait_ack(envelope).get("payload") or {})
        answer = request(
            self.port, "POST", "/slack/events", payload_body(payload), signed_headers(payload_body(payload))
        )
        assert answer.status == 200, answer
        return json.loads(answer.body) if answer.body.strip() else {}

    def command(self, payload: dict[str, Any]) -> None:
        if self.mode == "socket":
            self.slack.socket.wait_ack(self.slack.socket.send_envelope("slash_commands", payload))
            return
        body = urlencode(payload).encode()
        assert request(self.port, "POST", "/slack/events", body, signed_headers(body)).status == 200

    def event(self, payload: dict[str, Any], *, retry_attempt: int = 0) -> None:
        """An Events API delivery (e.g. a channel message), acked."""
        if self.mode == "socket":
            envelope = self.slack.socket.send_envelope(
                "events_api",
                payload,
                retry_attempt=retry_attempt,
                retry_reason="timeout" if retry_attempt else "",
            )
            self.slack.socket.wait_ack(envelope)
            return
        body = json.dumps(payload).encode()
        headers = signed_headers(body) | {"Content-Type": "application/json"}
        if retry_attempt:
            headers |= {"X-Slack-Retry-Num": str(retry_attempt), "X-Slack-Retry-Reason": "http_timeout"}
        answer = request(self.port, "POST", "/slack/events", body, headers)
        assert answer.status == 200, answer

    def log(self) -> str:
        return self.world.log_text()


def environment(
    slack: FakeSlack, productlane: FakeProductlane, home: Path, mode: str, database_url: str, **env: str
) -> dict[str, str]:
    environment = bot_environment(slack, productlane, home / "outbox.db")
    environment["DATABASE_URL"] = database_url
    # A captured message goes at once, not 2 s after it was kept: what these tests send arrives in
    # the order they send it, and a test about the order holds the first send until the rest are in
    # (a channel's messages wait for every earlier one whatever this is).
    environment["AUTOMATIC_SETTLE_SECONDS"] = "0"
    if mode == "http":
        del environment["SLACK_APP_TOKEN"]
        environment["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    return environment | env


@contextmanager
def replica(
    slack: FakeSlack, productlane: FakeProductlane, home: Path, mode: str, database_url: str, **env: str
) -> Iterator[Replica]:
    """A bot running until the block ends (then SIGTERM, and it must exit 0)."""
    home.mkdir(parents=True, exist_ok=True)
    environ = environment(slack, productlane, home, mode, database_url, **env)
    world = start_bot(slack, productlane, environ, home, home / "bot.log")
    try:
        ready = "HTTP mode on port" if mode == "http" else "connected to Slack"
        wait_until(lambda: ready in world.log_text() or world.bot.poll() is not None, "the bot to start", 60)
        assert world.bot.poll() is None, world.log_text()
        yield Replica(world, mode, int(environ["PORT"]))
    finally:
        if world.bot.poll() is None:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=60)
    assert world.bot.returncode == 0, world.log_text()
    secrets = (slack.bot_token, slack.app_token, productlane.api_key, SIGNING_SECRET)
    assert not [secret for secret in secrets if secret in world.log_text()]


# --- moves -------------------------------------------------------------------------------------


def open_settings(bot: Replica, user: str = ADMIN, channel: str = CHANNEL) -> dict[str, Any]:
    """`/feedback settings` in `channel`: the modal the bot opened."""
    mark = time.monotonic()
    bot.command(
        bot.slack.slash_command_payload(FEEDBACK_COMMAND, "settings", channel_id=channel, user_id=user)
    )
    opened = bot.slack.web.wait_for_call(
        "views.open",
        timeout=10,
        predicate=lambda c: since(mark)(c) and c.params["view"].get("callback_id") == CHANNEL_SETTINGS_MODAL,
    )
    return dict(bot.slack.web.views[opened.response["view"]["id"]])


def submit_settings(
    bot: Replica, view: dict[str, Any], values: dict[str, Any], user: str = ADMIN
) -> dict[str, Any]:
    """Submit the settings modal with {block_id: value} (the block's one element); the bot's answer."""
    blocks = by_field(view)
    state = {}
    for block_id, value in values.items():
        element = blocks[block_id]["element"]
        state[block_id] = {element["action_id"]: value}
    return bot.interactive(bot.slack.view_submission_payload(view["id"], state, user=user))


def set_channel(bot: Replica, values: dict[str, Any], channel: str = CHANNEL) -> None:
    answer = submit_settings(bot, open_settings(bot, channel=channel), values)
    assert not answer.get("errors"), answer


def message_event(
    slack: FakeSlack, ts: str, text: str, *, channel: str = CHANNEL, user: str = AUTHOR, **changes: Any
) -> dict[str, Any]:
    """A person's new top-level message, as a bot subscribed to message.channels receives it."""
    blocks = [
        {
            "type": "rich_text",
            "block_id": "b1",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]
    return slack.message_event_payload(
        "top_level_by_person",
        channel=channel,
        user=user,
        team="T0ACME0001",
        ts=ts,
        event_ts=ts,
        text=text,
        blocks=blocks,
        **changes,
    )


def deletion_event(
    slack: FakeSlack, ts: str, text: str, *, channel: str = CHANNEL, user: str = AUTHOR
) -> dict[str, Any]:
    payload = slack.message_event_payload("message_deleted", channel=channel, deleted_ts=ts)
    payload["event"]["previous_message"] = {"type": "message", "user": user, "text": text, "ts": ts}
    return payload


def threads_with(productlane: FakeProductlane, text: str) -> list[dict[str, Any]]:
    return [thread for thread in productlane.threads if text in thread["text"]]

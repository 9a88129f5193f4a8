"""A running Productlane → Slack loop for tests: fake Productlane sending signed webhooks to a
loopback endpoint around `receive_webhook`, the updates worker on a real outbox database, and
the fake Slack recording what it is told."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.delivery.outbox import Outbox
from bot.productlane import ProductlaneClient
from bot.settings import Settings
from bot.slack.replies import Confirmation
from bot.updates import RememberedThread, Updates, build_updates
from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import Call, FakeSlackWebAPI
from tests.pace import polls
from tests.updates.endpoint import WebhookEndpoint

SECRET = "whsec_rig_0123456789abcdef"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-test-token",
        "slack_app_token": "xapp-1-test",
        "productlane_api_key": "pl_v2_test_0123456789abcdef",
        "productlane_webhook_secret": SECRET,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Rig:
    outbox: Outbox
    productlane: FakeProductlane
    slack: FakeSlackWebAPI
    updates: Updates
    endpoint: WebhookEndpoint
    client: ProductlaneClient

    def new_thread(
        self,
        *,
        slack_connect: bool = False,
        channel: str = "C0FEEDBACK",
        thread_ts: str = "1700000000.000100",
        reply_ts: str = "1700000000.000200",
        title: str = "Export to CSV times out",
    ) -> str:
        """A thread the bot created (in the fake) and remembered; returns its id."""
        created = self.productlane.seed_thread(
            {
                "text": "<p>It times out</p>",
                "title": title,
                "contact_email": "jane@customer.example",
                "origin": "slack_connect" if slack_connect else "slack",
            }
        )
        self.updates.remember_thread(
            RememberedThread(
                thread_id=created["id"],
                confirmation=Confirmation(
                    thread_url=f"https://productlane.test/feedback/{created['id']}",
                    title=title,
                    pain_label="High",
                    contact=None if slack_connect else "Jane Doe <jane@customer.example>",
                    submitter_id="U0CSM0002",
                ),
                channel_id=channel,
                thread_ts=thread_ts,
                reply_channel_id=channel,
                reply_ts=reply_ts,
                is_slack_connect=slack_connect,
                status="open",
                status_as_of=datetime.fromisoformat(created["updated_at"]),
            )
        )
        return str(created["id"])

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until every webhook is answered and every event and effect is settled."""
        assert self.productlane.webhooks.wait_idle(timeout), "webhooks still being delivered"
        deadline = time.monotonic() + timeout
        busy = ("events.pending", "events.applying", "effects.pending", "effects.sending")
        pauses = polls()
        while time.monotonic() < deadline:
            counts = self.updates.store.counts()
            if not any(counts.get(name) for name in busy):
                return
            time.sleep(next(pauses))
        raise AssertionError(f"not settled: {self.updates.store.counts()}")

    def posts(self, thread_ts: str = "1700000000.000100") -> list[str]:
        """Texts the bot posted in that Slack thread."""
        return [
            str(c.params.get("text"))
            for c in self.slack.calls("chat.postMessage")
            if c.params.get("thread_ts") == thread_ts
        ]

    def edits(self, ts: str = "1700000000.000200") -> list[Call]:
        return [c for c in self.slack.calls("chat.update") if c.params.get("ts") == ts]

    def last_status_line(self, ts: str = "1700000000.000200") -> str:
        blocks = self.edits(ts)[-1].params["blocks"]
        return str(blocks[-1]["elements"][0]["text"])


@contextmanager
def running_rig(
    database_url: str,
    *,
    subscribe: bool = True,
    scopes: tuple[str, ...] = ("threads:read", "threads:write", "issues:read", "projects:read"),
    webhook_time_scale: float = 0.001,
    **setting_overrides: Any,
) -> Iterator[Rig]:
    with ExitStack() as stack:
        productlane = stack.enter_context(
            FakeProductlane(scopes=scopes, webhook_time_scale=webhook_time_scale)
        )
        slack = stack.enter_context(FakeSlackWebAPI())
        outbox = outbox_at(database_url)
        stack.callback(outbox.close)
        client = ProductlaneClient(productlane.api_key, productlane.url, timeout=5.0)
        stack.callback(client.close)
        web_client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=5)
        updates = build_updates(settings(**setting_overrides), outbox, web_client, client, idle_interval=0.05)
        endpoint = stack.enter_context(WebhookEndpoint(updates.receive_webhook))
        if subscribe:
            productlane.add_webhook(endpoint.url, SECRET)
        updates.start()
        stack.callback(updates.stop)
        yield Rig(outbox, productlane, slack, updates, endpoint, client)

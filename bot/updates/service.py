"""The one thing the app builds: `build_updates(...)` → `Updates`.

Wiring (in `bot/app.py` and the web server)::

    updates = build_updates(settings, outbox, web_client, productlane)
    # web server, when updates.webhooks_enabled:  POST /productlane/webhooks →
    #     status, body = updates.receive_webhook(raw_body, headers)
    # delivery worker, once the confirmation is posted:
    #     updates.remember_thread(thread_record_from_delivery(submission, request, thread, url, reply))
    updates.start()  …  updates.stop()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from slack_sdk import WebClient

from bot import metrics
from bot.budgets.write_limits import WriteLimits
from bot.channels.model import ChannelSettingsSource, NoChannelSettings
from bot.delivery.outbox import Outbox
from bot.productlane import ProductlaneClient
from bot.settings import Settings
from bot.slack.lookups import SlackLookups
from bot.updates.decide import Switches
from bot.updates.names import NameLookup
from bot.updates.receiver import WebhookReceiver, WebhookResult
from bot.updates.remember import RememberedThread
from bot.updates.slack_side import SlackThreadUpdater
from bot.updates.store import UpdatesStore
from bot.updates.worker import POLL_READS_PER_MINUTE, EffectSender, EventApplier, Poller, UpdatesWorker

__all__ = ["WEBHOOK_PATH", "Mode", "Updates", "build_updates", "describe_mode"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/productlane/webhooks"
# One read budget for polling per database (all replicas), in the outbox's shared limiter.
POLL_LIMITER_KEY = "productlane:poll-reads"

Mode = Literal["webhooks", "polling", "off"]


def mode_of(settings: Settings) -> Mode:
    if settings.webhook_secrets():
        return "webhooks"
    return "polling" if settings.productlane_poll_seconds > 0 else "off"


def describe_mode(settings: Settings) -> str:
    """One line on how Productlane's changes reach Slack (for the start-up log and `check`)."""
    mode = mode_of(settings)
    if mode == "webhooks":
        replies = (
            "the team's replies are posted in Slack (message.*)"
            if settings.updates_post_replies
            else "the team's replies are not posted (UPDATES_POST_REPLIES=false)"
        )
        return (
            f"webhooks: signed POST {WEBHOOK_PATH} on PORT {settings.port} (PRODUCTLANE_WEBHOOK_SECRET set); "
            + replies
        )
    if mode == "polling":
        return (
            f"polling every {settings.productlane_poll_seconds:g} s (no PRODUCTLANE_WEBHOOK_SECRET): status "
            f"only, up to {POLL_READS_PER_MINUTE} threads a minute; links, 'shipped' and the team's replies "
            "need webhooks"
        )
    return "off (no PRODUCTLANE_WEBHOOK_SECRET and PRODUCTLANE_POLL_SECONDS=0)"


@dataclass
class Updates:
    """Productlane → Slack: the webhook receiver, the thread records, the worker."""

    store: UpdatesStore
    worker: UpdatesWorker
    receiver: WebhookReceiver
    mode: Mode
    poll_seconds: float

    @property
    def webhooks_enabled(self) -> bool:
        """Whether the web server should serve `WEBHOOK_PATH` (a secret is set)."""
        return self.mode == "webhooks"

    def receive_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        """``POST /productlane/webhooks``: (status, JSON body). See `bot.updates.receiver`."""
        answer = self.receiver(raw_body, headers)
        metrics.webhook_answered(*answer)
        return answer

    def remember_thread(self, record: RememberedThread | None) -> None:
        """Keep the Slack side of a thread the bot created. Never raises: a failure here must not
        turn a delivered submission into a retried one."""
        if record is None:
            return
        try:
            self.store.remember(record, poll_after=self.poll_seconds or 60.0)
        except Exception:
            log.exception("could not remember the Slack side of thread %s", record.thread_id)

    def start(self) -> None:
        if self.mode != "off":
            self.worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.stop(timeout)

    def problems(self) -> list[str]:
        """For /readyz: empty when all is well."""
        return self.worker.problems()


def build_updates(
    settings: Settings,
    outbox: Outbox,
    web_client: WebClient,
    productlane: ProductlaneClient,
    *,
    clock: Callable[[], datetime] | None = None,
    wall_clock: Callable[[], float] = time.time,
    idle_interval: float = 1.0,
    owner: str | None = None,
    on_threads_changed: Callable[[Sequence[str]], None] | None = None,
    channel_settings: ChannelSettingsSource | None = None,
    bot_wrote: Callable[[str], bool] | None = None,
    lookups: SlackLookups | None = None,
) -> Updates:
    """Everything Productlane → Slack needs, from the settings and the app's collaborators.

        ``on_threads_changed``: told which threads' status or links an applied event changed.
        ``channel_settings``: a channel whose settings say ``replies: false`` gets none of the team's
        replies. ``bot_wrote(id)``: whether a Productlane message or comment is one the bot created (a
        follow-up from Slack), never posted back. ``lookups``: the app's cached Slack lookups, which say
    whether a channel is shared before each post there."""
    store = UpdatesStore(
        outbox.database, clock=clock or (lambda: datetime.now(UTC)), on_threads_changed=on_threads_changed
    )
    switches = Switches(
        edit_confirmation=settings.updates_edit_confirmation,
        post_done=settings.updates_post_done,
        post_shipped=settings.updates_post_shipped,
        post_replies=settings.updates_post_replies,
    )
    source = channel_settings or NoChannelSettings()

    def replies_in(channel_id: str) -> bool:
        found = source.for_channel(channel_id)
        return found is None or found.replies

    mode = mode_of(settings)
    poller = None
    if mode == "polling":
        poller = Poller(
            store,
            productlane,
            settings.productlane_poll_seconds,
            read_slot=lambda: WriteLimits(outbox.database).reserve_write_slot(
                POLL_LIMITER_KEY, rate_per_minute=POLL_READS_PER_MINUTE, burst=10
            ),
        )
    worker = UpdatesWorker(
        store,
        EventApplier(
            store,
            NameLookup(productlane),
            switches,
            bot_wrote=bot_wrote or (lambda _: False),
            replies_in=replies_in,
        ),
        EffectSender(store, SlackThreadUpdater(web_client, lookups)),
        poller,
        idle_interval=idle_interval,
        owner=owner,
    )
    receiver = WebhookReceiver(store, settings.webhook_secrets(), on_event=worker.wake, clock=wall_clock)
    return Updates(store, worker, receiver, mode, settings.productlane_poll_seconds)

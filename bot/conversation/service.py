"""The one thing the app builds: `build_conversation(...)` → `Conversation`.

Wiring (in `bot/app.py`)::

    conversation = build_conversation(settings, outbox, productlane, lookups, capture, composer,
                                      interest, limiter_key=..., channel_settings=...)
    message_events.consume(Route.FOLLOW_UP, conversation.intake)   # when follow-ups are on
    # the delivery worker, once a confirmation is posted:
    conversation.on_confirmed(submission, request, result)
    # Productlane → Slack: never post back what the bot wrote
    build_updates(..., bot_wrote=conversation.bot_wrote)
    conversation.start()  …  conversation.stop()
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.background import BackgroundThreads
from bot.budgets.file_copies import CopierSettings, FileCopier
from bot.budgets.key_pause import KeyPause
from bot.budgets.write_limits import WriteLimits
from bot.channels.model import ChannelSettingsSource, NoChannelSettings
from bot.conversation.followed import FollowedThreads
from bot.conversation.intake import FollowUpIntake
from bot.conversation.priority import NewFeedbackFirst
from bot.conversation.sender import COMMENT_SCOPE, PATCH, FollowUpSender, SenderSettings, SharedWrites
from bot.conversation.slack_facts import SlackFacts
from bot.conversation.store import FollowUpStore, Route
from bot.conversation.whole_thread import ThreadComposer, WholeThread
from bot.conversation.worker import ConversationWorker
from bot.delivery.outbox import Outbox
from bot.feedback.submission import Submission
from bot.floods import FloodAlerts, FloodStore
from bot.message_events import Interest
from bot.productlane import ProductlaneClient
from bot.settings import Settings
from bot.slack.capture import SlackCapture
from bot.slack.lookups import SlackLookups

__all__ = ["Conversation", "build_conversation", "describe_route"]

log = logging.getLogger(__name__)


@dataclass
class Conversation:
    """Slack → Productlane follow-ups: the ack path's consumer, the followed threads, the worker."""

    store: FollowUpStore
    followed: FollowedThreads
    intake: FollowUpIntake
    worker: ConversationWorker
    days: int

    @property
    def enabled(self) -> bool:
        return self.days > 0

    def on_confirmed(self, submission: Submission, result: Mapping[str, Any]) -> None:
        """A filed message's confirmation is posted: follow its thread. Never raises: a failure
        here must not turn a delivered submission into a retried one."""
        try:
            self.followed.record(submission, result)
        except Exception:
            log.exception("could not follow the Slack thread of thread %s", result.get("thread_id"))

    def bot_wrote(self, message_id: str) -> bool:
        """Whether Productlane's message or comment ``message_id`` is a follow-up the bot wrote."""
        return self.store.is_bot_comment(message_id)

    def start(self) -> None:
        if self.enabled:
            self.worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.stop(timeout)

    def problems(self) -> list[str]:
        return self.worker.problems() if self.enabled else []


def build_conversation(
    settings: Settings,
    outbox: Outbox,
    productlane: ProductlaneClient,
    lookups: SlackLookups,
    capture: SlackCapture,
    composer: ThreadComposer,
    interest: Interest,
    *,
    limiter_key: str,
    channel_settings: ChannelSettingsSource | None = None,
    owner: str | None = None,
    floods: FloodStore | None = None,
    alerts: FloodAlerts | None = None,
) -> Conversation:
    store = FollowUpStore(outbox.database)
    threads = BackgroundThreads()
    followed = FollowedThreads(
        store, interest, channel_settings or NoChannelSettings(), settings.followup_days
    )
    # As long as delivery's: a replica that died holding a thread is taken over as soon.
    lease = settings.delivery_lease_seconds
    copier = FileCopier(
        outbox.database,
        productlane,
        capture,
        CopierSettings(
            limiter_key=limiter_key,
            lease_seconds=lease,
            write_rate_per_minute=settings.productlane_writes_per_minute,
            uploads_per_minute=settings.productlane_uploads_per_minute,
            uploads_per_channel_per_day=settings.uploads_per_channel_per_day,
            files_per_copy=settings.files_per_submission,
        ),
        stopping=threads.stopping,
    )
    sender = FollowUpSender(
        store,
        productlane,
        SlackFacts(lookups),
        WholeThread(store, outbox, composer, capture, copier, floods),
        copier,
        SharedWrites(WriteLimits(outbox.database), KeyPause(outbox.database), NewFeedbackFirst(outbox)),
        settings=SenderSettings(
            limiter_key=limiter_key,
            owner=owner or f"conversation-{uuid.uuid4().hex[:8]}",
            rate_per_minute=settings.productlane_writes_per_minute,
            lease_seconds=lease,
            gather_seconds=settings.followup_batch_seconds / 2,
            spacing_seconds=settings.followup_batch_seconds,
        ),
        stopping=threads.stopping,
    )
    worker = ConversationWorker(
        store,
        followed,
        sender,
        threads,
        # A thread followed for FOLLOWUP_DAYS may be rendered again (the fallback) until its end.
        copies_kept=timedelta(days=settings.followup_days + 7),
        retention=timedelta(days=settings.outbox_retention_days),
    )
    intake = FollowUpIntake(store, followed, worker.wake, floods=floods, alerts=alerts)
    return Conversation(store, followed, intake, worker, settings.followup_days)


def describe_route(days: int, scopes: Sequence[str] | None, routes: Sequence[Route]) -> str:
    """What `check` says about how follow-ups reach Productlane. ``scopes``: the key's, None when
    unknown; ``routes``: what running bots found out (the database)."""
    if days <= 0:
        return "off (FOLLOWUP_DAYS=0)"
    window = f"replies in a filed message's Slack thread for {days} days"
    fallbacks = [route for route in routes if route.route == PATCH]
    if fallbacks:
        latest = fallbacks[0]
        since = latest.since.strftime("%Y-%m-%d %H:%M UTC")
        reason = latest.reason or "no reason given"
        return (
            f"{window}, as comments (POST /threads/{{id}}/comments); for {len(fallbacks)} thread(s) "
            f"by re-rendering the thread's body (PATCH /threads/{{id}}), never over a change made in "
            f"Productlane: Productlane refused comments on them (latest: {reason} "
            f"on {since}); comments are tried again hourly"
        )
    if scopes is not None and COMMENT_SCOPE not in scopes:
        return (
            f"{window}; the key lacks {COMMENT_SCOPE}, so they will go by re-rendering the thread's body "
            f"(PATCH /threads/{{id}}) instead of as comments — give the key {COMMENT_SCOPE} for comments"
        )
    return f"{window}, as comments (POST /threads/{{id}}/comments)"

"""The factory: build the Bolt app and the delivery worker from settings and collaborators.

Tests build the bot against loopback fakes by passing their own clients; production passes none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.automatic.capture import AutomaticCapture, AutomaticComposer, DeletedInSlack
from bot.background import RepeatedFailureLog
from bot.catalog import Catalog, build_catalog
from bot.channels.cache import ChannelSettingsCache
from bot.channels.confirm import news_may_follow
from bot.channels.store import ChannelSettingsStore
from bot.conversation import Conversation, build_conversation
from bot.db import DatabaseFileGoneError
from bot.delivery.composer import SlackComposer
from bot.delivery.drafts import SqlDraftStore
from bot.delivery.edits import OutboxFiling
from bot.delivery.health import DeliveryHealth, DeliveryHealthReader
from bot.delivery.intake import Intake
from bot.delivery.outbox import Outbox
from bot.delivery.retention import RetentionJanitor
from bot.delivery.sent import find_sent
from bot.delivery.worker import DeliveryWorker, SlackSide, WorkerSettings
from bot.feedback.form import FormDefaults
from bot.feedback.source import SourceMessage
from bot.feedback.submission import DraftStore, Submission
from bot.floods import FloodAlerts, FloodStore, Scope, flood_limits
from bot.home import HomePacing, HomeShows, HomeSlack, HomeTab, update_mode_words
from bot.home.held import HeldActions
from bot.listener_pool import ListenerPool
from bot.listeners import (
    Services,
    actions,
    channel_settings,
    commands,
    events,
    home,
    options,
    shortcuts,
    views,
)
from bot.message_events import Interest, MessageEvents, Route
from bot.message_events.catch_up import CatchUp
from bot.productlane import PainLevel, ProductlaneClient, WriteLimiter
from bot.productlane.models import CreateThread
from bot.settings import Settings
from bot.slack.admins import WorkspaceAdmins
from bot.slack.capture import SlackCapture
from bot.slack.client import CountingWebClient
from bot.slack.lookups import SlackLookups
from bot.slack.replies import SlackMessenger, SlackTools
from bot.slack.team import Teammates
from bot.slack.tls import LazyTrustContext
from bot.tables import open_database
from bot.triage.service import Triage
from bot.ui.access import Access
from bot.ui.channel_settings import ChannelSettingsModals
from bot.ui.modals import BotIdentity, FeedbackModals, already_sent_notice
from bot.ui.notifier import SlackNotifier
from bot.ui.reactions import ReactionFiler
from bot.updates import Updates, build_updates, thread_record_from_delivery
from bot.updates.service import mode_of

log = logging.getLogger(__name__)

# A lazy listener makes a few Slack calls, each bounded by the client's 10 s timeout.
LISTENER_DRAIN_SECONDS = 15.0


@dataclass
class Bot:
    """A built bot: the Bolt app, and the worker that delivers what it accepts."""

    app: App
    worker: DeliveryWorker
    outbox: Outbox
    productlane: ProductlaneClient
    identity: BotIdentity
    workspace_name: str | None
    janitor: RetentionJanitor
    listeners: ListenerPool
    updates: Updates
    # Channel messages (`message.*` events), decided before Bolt sees them.
    message_events: MessageEvents
    capture: SlackCapture | None = None
    # The App Home, and delivery health as admins and /metrics read it.
    home: HomeTab | None = None
    health: DeliveryHealthReader | None = None
    # Settings per channel, kept current from the database, so every replica applies a change.
    channel_settings: ChannelSettingsCache | None = None
    # Triage: Productlane's lists in memory, so the modal's searchable selects answer without waiting.
    catalog: Catalog = field(default_factory=Catalog.off)
    # Follow-ups from Slack into Productlane: the conversation goes on after the thread is filed.
    conversation: Conversation | None = None
    # After an outage longer than Slack's retries, the channel messages it lost, read back.
    catch_up: CatchUp | None = None
    # Telling the admins when a channel goes over the flood limits.
    flood_alerts: FloodAlerts | None = None
    _file_gone: RepeatedFailureLog = field(
        default_factory=lambda: RepeatedFailureLog(log, "the outbox database file check")
    )

    def start(self) -> None:
        """Start the background work: delivery, Productlane → Slack updates, and purging what is
        past its retention."""
        self.worker.start()
        self.updates.start()
        self.catalog.start()
        if self.conversation is not None:
            self.conversation.start()

    def tick(self) -> None:
        """Called about once a second by the thread that waits for the stop (the main thread): the
        chores that need no thread of their own while they wait."""
        self.janitor.tick()
        if self.channel_settings is not None:
            self.channel_settings.tick()
        # Reload lists another replica refreshed; start a refresh that is due (its own thread).
        self.catalog.tick()
        # Socket mode may have no readiness probe: the log says it too.
        if self.outbox.database.file_gone():
            self._file_gone.failed(DatabaseFileGoneError())
        if self.catch_up is not None:
            self.catch_up.tick(self.outbox.ping)
        try:
            self.outbox.database.checkpoint()
        except Exception as error:  # the outbox's own checks report an unreachable database
            log.debug("checkpoint skipped: %s", type(error).__name__)

    def readiness_problems(self) -> list[str]:
        """Why this replica should not get traffic now (empty: ready): the database, the worker."""
        try:
            self.outbox.ping()
        except DatabaseFileGoneError as error:
            return [str(error)]
        except Exception as error:
            # The message would carry the database URL; name only the kind of failure.
            return [f"the outbox database is unreachable ({type(error).__name__})"]
        conversation = self.conversation.problems() if self.conversation is not None else []
        return self.worker.problems() + self.updates.problems() + conversation

    def delivery_health(self) -> DeliveryHealth:
        """Delivery as the shared database says (for /metrics): read at most every few seconds."""
        if self.health is None:
            self.health = DeliveryHealthReader(self.outbox, f"productlane:{self.identity.team_id}")
        return self.health.read()

    def readiness_notices(self) -> list[str]:
        """What /readyz shows an operator without failing the probe (a paused delivery)."""
        return self.worker.notices()

    def close(self) -> None:
        # Listeners under way (a modal opening) may still read the outbox: let them finish first.
        if not self.listeners.drain(timeout=LISTENER_DRAIN_SECONDS):
            log.warning("listeners still running after %.0f s; stopping anyway", LISTENER_DRAIN_SECONDS)
        self.janitor.stop()
        if self.catch_up is not None:
            self.catch_up.stop()
        if self.home is not None:
            self.home.stop()
        if self.flood_alerts is not None:
            self.flood_alerts.stop()
        self.catalog.stop()
        if self.conversation is not None:
            self.conversation.stop()
        self.updates.stop()
        self.worker.stop()
        self.productlane.close()
        if self.capture is not None:
            self.capture.close()
        self.outbox.database.close()


def slack_client(settings: Settings) -> WebClient:
    # Counts failed calls by method and error code for /metrics.
    return CountingWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base_url(),
        timeout=10,
        # One context for every call and the socket-mode connection, not one each (bot.slack.tls).
        ssl=LazyTrustContext(),
    )


def already_sent(outbox: Outbox) -> Callable[[SourceMessage], str | None]:
    """The duplicate guard: a notice for the modal when the message was delivered before."""

    def notice(source: SourceMessage) -> str | None:
        record = find_sent(outbox.database, source.channel_id, source.ts)
        if record is None:
            return None
        return already_sent_notice(record.thread_url, record.submitter_id, record.delivered_at)

    return notice


def build_bot(
    settings: Settings,
    *,
    web_client: WebClient | None = None,
    productlane: ProductlaneClient | None = None,
    outbox: Outbox | None = None,
    drafts: DraftStore | None = None,
) -> Bot:
    client = web_client or slack_client(settings)
    # Who the bot is: needed to refuse its own messages. A bad token fails here, at start.
    auth = client.auth_test()
    identity = BotIdentity(
        user_id=auth.get("user_id"),
        bot_id=auth.get("bot_id"),
        team_id=auth.get("team_id"),
        # Installed for a whole Enterprise Grid organization: its people are ours in every workspace.
        enterprise_id=(auth.get("enterprise_id") or None) if auth.get("is_enterprise_install") else None,
    )
    writes_per_minute = settings.productlane_writes_per_minute
    productlane = productlane or ProductlaneClient(
        settings.productlane_api_key.get_secret_value(),
        settings.productlane_api_url,
        # This process's own guard; the budget every replica shares is the limiter in the database.
        write_limiter=WriteLimiter(rate_per_minute=writes_per_minute),
    )
    outbox = outbox or Outbox(
        open_database(settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms())
    )
    drafts = drafts or SqlDraftStore(outbox.database)
    lookups = SlackLookups(client)
    # One write budget per Productlane key, shared by all replicas on this database.
    limiter_key = f"productlane:{identity.team_id}"
    health = DeliveryHealthReader(outbox, limiter_key)
    # Settings per channel: the database, and this replica's copy of them in memory.
    interest = Interest()
    channel_store = ChannelSettingsStore(outbox.database)
    channels = ChannelSettingsCache(channel_store, on_automatic=interest.set_automatic_channels)
    admins = WorkspaceAdmins(lookups, settings.feedback_admin_ids(), identity.team_id, identity.enterprise_id)
    capture = SlackCapture(client, settings.slack_bot_token.get_secret_value(), settings.slack_api_base_url())
    composer = SlackComposer(lookups)
    # A captured message's author is its contact, looked up in delivery: when the first thread is
    # composed, and again whenever the conversation writes the whole thread into its body.
    automatic_composer = AutomaticComposer(composer, lookups)
    # Flood limits: what automatic capture and follow-ups keep over them is held for the admins.
    floods = FloodStore(outbox.database, flood_limits(settings))
    flood_alerts = FloodAlerts(
        admins.to_tell, SlackMessenger(client, lookups).direct, settings.outbox_retention_days
    )
    # Follow-ups from Slack into Productlane: a filed thread's later replies reach it too.
    conversation = build_conversation(
        settings,
        outbox,
        productlane,
        lookups,
        capture,
        automatic_composer,
        interest,
        limiter_key=limiter_key,
        channel_settings=channels,
        floods=floods,
        alerts=flood_alerts,
    )
    home_tab = HomeTab(
        HomeSlack(client, lookups, admins, identity.own_team, workspace_name=auth.get("team")),
        outbox,
        health,
        limiter_key=limiter_key,
        shows=HomeShows(
            update_mode=update_mode_words(mode_of(settings), settings.productlane_poll_seconds),
            reaction=settings.feedback_reaction,
            writes_per_minute=writes_per_minute,
            retention_days=settings.outbox_retention_days,
        ),
        pacing=HomePacing(min_interval=timedelta(seconds=settings.home_republish_seconds)),
        channel_settings=channels,
        floods=floods,
    )
    updates = build_updates(
        settings,
        outbox,
        client,
        productlane,
        on_threads_changed=home_tab.threads_changed,
        channel_settings=channels,
        bot_wrote=conversation.bot_wrote,
        lookups=lookups,
    )
    catalog = build_catalog(outbox.database, productlane, settings.catalog_refresh_seconds)
    triage = Triage(catalog, channels)

    def remember(submission: Submission, request: CreateThread, result: dict[str, Any]) -> None:
        # Where the confirmation landed: status changes, "done", "shipped" and the team's replies go
        # there later — except in a channel confirmed privately or by reaction: no bot message there.
        if news_may_follow(channels, submission, result.get("reply")):
            record = thread_record_from_delivery(
                submission, request, result, str(result["url"]), result["reply"]
            )
            updates.remember_thread(record)
        # Its Slack thread's replies reach Productlane from now on, however it was confirmed.
        conversation.on_confirmed(submission, result)

    worker = DeliveryWorker(
        outbox,
        productlane,
        automatic_composer,
        SlackSide(
            notifier=home_tab.watching(
                SlackNotifier(
                    SlackMessenger(client, lookups), bot_id=identity.bot_id, channel_settings=channels
                )
            ),
            gatherer=capture,
            withdrawn=DeletedInSlack(channel_store),
        ),
        settings.thread_url,
        settings=WorkerSettings(
            limiter_key=limiter_key,
            rate_per_minute=writes_per_minute,
            lease_seconds=settings.delivery_lease_seconds,
            uploads_per_minute=settings.productlane_uploads_per_minute,
            uploads_per_channel_per_day=settings.uploads_per_channel_per_day,
            files_per_submission=settings.files_per_submission,
        ),
        on_confirmed=remember,
        triage=triage,
    )
    defaults = FormDefaults(
        pain_level=PainLevel(settings.default_pain_level),
        notify_slack=settings.default_notify_slack,
        notify_email=settings.default_notify_email,
    )
    intake = Intake(outbox, worker.wake)
    filing = OutboxFiling(outbox, intake)
    automatic = AutomaticCapture(
        outbox,
        channel_store,
        channels,
        defaults,
        worker.wake,
        floods=floods,
        alerts=flood_alerts,
        settle=timedelta(seconds=settings.automatic_settle_seconds),
    )
    held = HeldActions(
        floods,
        admins,
        {Scope.AUTOMATIC: automatic.file_held, Scope.FOLLOWUP: conversation.intake.file_held},
        home_tab.opened,
    )
    reactions = ReactionFiler(
        SlackTools.over(client, lookups),
        filing,
        defaults,
        identity,
        settings.feedback_reaction,
        channel_settings=channels,
        triage=triage,
    )
    channel_modals = ChannelSettingsModals(
        SlackTools.over(client, lookups),
        channel_store,
        channels,
        admins,
        default_pain=defaults.pain_level,
        emoji=settings.feedback_reaction,
        bot_user_id=identity.user_id,
        names=catalog,
    )
    services = Services(
        modals=FeedbackModals(
            client,
            lookups,
            drafts,
            defaults,
            identity,
            already_sent=already_sent(outbox),
            triage=triage,
        ),
        access=Access(client, lookups, Teammates(lookups, identity.own_team)),
        drafts=drafts,
        intake=intake,
        default_pain=defaults.pain_level,
        reactions=reactions,
        edit_targets=filing,
        home=home_tab,
        channel_settings=channel_modals,
        triage=triage,
        held=held,
    )
    listener_pool = ListenerPool()
    app = App(
        # Without a name Bolt calls inspect.stack(), which reads the source of every calling file
        # into memory (0.4 MB of the idle process) and slows the start.
        name="productlane-slack",
        client=client,
        signing_secret=(
            settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        ),
        # Ack functions answer Slack the moment they return; slow work runs in lazy listeners.
        process_before_response=True,
        token_verification_enabled=False,  # auth.test already ran above
        request_verification_enabled=not settings.socket_mode,
        listener_executor=listener_pool,
    )
    # Bolt logs a refused request's body at INFO; ours says it was refused (bot.web.slack_events).
    refused_requests_log = logging.getLogger("slack_bolt.RequestVerification")
    if not refused_requests_log.isEnabledFor(logging.DEBUG):
        refused_requests_log.setLevel(logging.WARNING)
    for listeners in (shortcuts, commands, views, actions, events, home, channel_settings):
        listeners.register(app, services)
    options.register(app, services, lookups)
    janitor = RetentionJanitor(
        outbox,
        timedelta(days=settings.outbox_retention_days),
        # The confirmation's words (title, contact, triage names) go with the submission.
        forget=(updates.store.forget_confirmations,),
        also=[lambda before: floods.purge(before)],
    )
    message_events = MessageEvents(interest, bot_user_id=identity.user_id, bot_id=identity.bot_id)
    message_events.consume(Route.AUTOMATIC, automatic)
    if conversation.enabled:
        message_events.consume(Route.FOLLOW_UP, conversation.intake)
    catch_up = CatchUp(
        client,
        interest,
        message_events.handle,
        identity.team_id,
        min_outage_seconds=settings.catch_up_after_seconds,
    )
    message_events.watch(catch_up)
    return Bot(
        app,
        worker,
        outbox,
        productlane,
        identity,
        auth.get("team"),
        janitor,
        listener_pool,
        updates,
        message_events,
        capture,
        home=home_tab,
        health=health,
        channel_settings=channels,
        catalog=catalog,
        conversation=conversation,
        catch_up=catch_up,
        flood_alerts=flood_alerts,
    )

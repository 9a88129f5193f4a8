"""`/feedback settings`: who may open a channel's settings, the modal, saving it, and what follows.

Workspace admins and owners, and the people in FEEDBACK_ADMINS, may change a channel's settings
(`WorkspaceAdmins`). Anyone else is told privately who can. The check is made again when the modal is
saved: the modal may have been open a while, or forwarded in some way; a refusal then shows on the
modal and nothing is saved. A saved change is in the database before Slack hears "ok", this replica's
cache reloads at once, and every other replica's within a second or two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.channels.cache import ChannelSettingsCache
from bot.channels.membership import ensure_member, membership_notice
from bot.channels.model import ChannelSettings
from bot.channels.store import ChannelSettingsStore
from bot.productlane.models import PainLevel
from bot.slack.admins import WorkspaceAdmins
from bot.slack.replies import SlackTools, notice_reply
from bot.ui.channel_views import (
    CAPTURE_BLOCK,
    CatalogNames,
    IdsAsNames,
    SettingsModalContent,
    settings_from_state,
    settings_modal,
)

log = logging.getLogger(__name__)

SETTINGS_WORD = "settings"
NOT_SAVED = "Your settings could not be saved just now. Please press Save again."


def is_settings_request(text: str | None) -> bool:
    """`/feedback settings`: the one word, in any case, alone. Anything else typed after /feedback is
    feedback (`/feedback settings page is broken` too)."""
    return (text or "").strip().lower() == SETTINGS_WORD


def not_allowed(who_can: str) -> str:
    return (
        f":lock: Only {who_can} can change a channel's settings. Ask one of them; to send feedback "
        "yourself, type `/feedback` and what the customer said."
    )


def not_a_channel() -> str:
    return (
        ":information_source: Settings belong to a channel: type `/feedback settings` in the channel "
        "you want to set up."
    )


def not_allowed_on_save(feedback_admins: bool) -> str:
    named = ", and the people in FEEDBACK_ADMINS," if feedback_admins else ""
    return f"Only workspace admins and owners{named} can change channel settings. Nothing was saved."


class ChannelSettingsModals:
    """Opens and saves the channel settings modal. Listeners call `open`, `save` and `after_save`."""

    def __init__(
        self,
        slack: SlackTools,
        store: ChannelSettingsStore,
        cache: ChannelSettingsCache,
        admins: WorkspaceAdmins,
        *,
        default_pain: PainLevel,
        emoji: str,
        bot_user_id: str | None,
        names: CatalogNames | None = None,
    ) -> None:
        self._client = slack.client
        self._lookups = slack.lookups
        self._messenger = slack.messenger
        self._store = store
        self._cache = cache
        self._admins = admins
        self._default_pain = default_pain
        self._emoji = emoji
        self._bot_user_id = bot_user_id
        self.names: CatalogNames = names or IdsAsNames()

    def open(
        self, trigger_id: str, user_id: str, channel_id: str | None, tell: Callable[[str], object]
    ) -> None:
        """The modal for the channel `/feedback settings` was typed in, or a private word why not."""
        if not channel_id or channel_id.startswith("D"):
            tell(not_a_channel())
            return
        if not self._admins.is_admin(user_id):
            log.info("channel settings of %s refused to %s: not an admin", channel_id, user_id)
            tell(not_allowed(self._admins.who_can()))
            return
        settings = self._store.get(channel_id) or ChannelSettings(channel=channel_id)
        changed = self._store.changed_by(channel_id)
        content = SettingsModalContent(
            channel_id=channel_id,
            settings=settings,
            default_pain=self._default_pain,
            emoji=self._emoji,
            changed_by=changed[0] if changed else None,
            changed_at=changed[1] if changed else None,
        )
        try:
            self._client.views_open(trigger_id=trigger_id, view=settings_modal(content, self.names))
        except SlackApiError as error:
            log.warning("the settings of %s could not be opened: %s", channel_id, error.response.get("error"))

    def save(self, view: Mapping[str, Any], user_id: str) -> dict[str, str] | None:
        """Save a submitted modal (on the ack path): None when saved, else the errors to show on it."""
        channel_id = str(view.get("private_metadata") or "")
        if not self._admins.is_admin(user_id):
            log.warning("channel settings of %s not saved: %s is not an admin", channel_id, user_id)
            return {CAPTURE_BLOCK: not_allowed_on_save(self._admins.has_named)}
        values = settings_from_state((view.get("state") or {}).get("values") or {})
        try:
            changes = self._store.apply([(channel_id, values)], by=user_id)
        except ValueError as error:  # a value the model refuses: Slack sent something unexpected
            log.warning("channel settings of %s not saved: %s", channel_id, error)
            return {CAPTURE_BLOCK: NOT_SAVED}
        except Exception:
            log.exception("channel settings of %s could not be saved", channel_id)
            return {CAPTURE_BLOCK: NOT_SAVED}
        try:
            self._cache.reload()
        except Exception:  # saved: the next refresh picks it up
            log.exception("channel settings saved, but reloading them failed")
        log.info(
            "channel settings of %s %s by %s",
            channel_id,
            "changed" if changes[0].changed else "saved unchanged",
            user_id,
        )
        return None

    def after_save(self, view: Mapping[str, Any], user_id: str) -> None:
        """After Slack has its answer: a channel that now captures automatically needs the bot in it."""
        channel_id = str(view.get("private_metadata") or "")
        settings = self._cache.for_channel(channel_id)
        if settings is None or not settings.captures_automatically or not self._admins.is_admin(user_id):
            return
        notice = membership_notice(
            ensure_member(self._client, self._lookups, channel_id), channel_id, self._bot_user_id
        )
        if notice is None:
            return
        try:
            self._messenger.to_person(user_id, notice_reply(notice), channel_id)
        except Exception as error:  # best effort: the settings are saved
            log.info("could not tell %s about joining %s: %s", user_id, channel_id, type(error).__name__)

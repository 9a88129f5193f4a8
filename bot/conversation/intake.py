"""The ack path of follow-ups: a reply in a followed thread is kept (one row, keyed by channel and
ts) before Slack hears "ok"; if it cannot be kept, this raises and Slack sends the event again.

It runs for each message `bot.message_events` routes here (`Route.FOLLOW_UP`): a reply, an edit or a
deletion in a thread `Interest` follows. Bots and the bot itself never get this far
(`bot.message_events.classify`), so neither the bot's own replies nor the team's replies it posted
from Productlane go back as follow-ups.

A new reply over the flood limits (`bot.floods`) is held there instead of kept here, until an admin
files it (`file_held`, then it is kept like any reply) or drops it; deleted in Slack meanwhile, its
held copy goes too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot.conversation.followed import FollowedThreads
from bot.conversation.store import FollowUpStore
from bot.floods import FloodAlerts, FloodStore, HeldItem, Scope
from bot.message_events import ChannelMessage, MessageKind

__all__ = ["FollowUpIntake", "kept_message"]

log = logging.getLogger(__name__)

# What of a message is shown in Productlane (and who wrote it); the rest of the event is not kept.
_KEPT = ("text", "blocks", "files", "attachments", "user", "user_team", "team", "ts", "thread_ts", "subtype")


def kept_message(message: Mapping[str, Any]) -> dict[str, Any]:
    kept = {key: message[key] for key in _KEPT if message.get(key) is not None}
    profile = message.get("user_profile")
    if isinstance(profile, Mapping):
        kept["user_profile"] = {
            key: profile[key] for key in ("real_name", "display_name") if isinstance(profile.get(key), str)
        }
    return kept


def _edited_ts(message: Mapping[str, Any]) -> str | None:
    edited = message.get("edited")
    ts = edited.get("ts") if isinstance(edited, Mapping) else None
    return ts if isinstance(ts, str) and ts else None


class FollowUpIntake:
    """The `Route.FOLLOW_UP` consumer."""

    def __init__(
        self,
        store: FollowUpStore,
        followed: FollowedThreads,
        on_kept: Callable[[], None],
        *,
        floods: FloodStore | None = None,
        alerts: FloodAlerts | None = None,
    ) -> None:
        self._store = store
        self._followed = followed
        self._on_kept = on_kept
        self._floods = floods
        self._alerts = alerts

    def __call__(self, message: ChannelMessage, team_id: str | None) -> None:
        thread_ts = message.thread_ts
        if thread_ts is None or not self._followed.allowed_in(message.channel):
            return
        if message.kind is MessageKind.NEW:
            kept_words = kept_message(message.message)
            if self._held(message, thread_ts, kept_words):
                return
            kept = self._store.add_reply(message.channel, thread_ts, message.ts, message.user, kept_words)
            outcome = "kept" if kept else "already kept, or not followed now"
        elif message.kind is MessageKind.EDITED:
            changed = message.message
            outcome = self._store.edit_reply(
                message.channel, thread_ts, message.ts, kept_message(changed), _edited_ts(changed)
            )
        else:
            if self._floods is not None:
                self._floods.forget(Scope.FOLLOWUP, message.channel, message.ts)
            outcome = self._store.delete_reply(message.channel, thread_ts, message.ts)
        log.info("follow-up %s/%s (%s): %s", message.channel, message.ts, message.kind.value, outcome)
        self._on_kept()

    def _held(self, message: ChannelMessage, thread_ts: str, kept: dict[str, Any]) -> bool:
        """Whether the flood limits hold this new reply (then it is not kept here)."""
        if self._floods is None:
            return False
        payload = {"thread_ts": thread_ts, "user": message.user, "message": kept}
        verdict = self._floods.admit(Scope.FOLLOWUP, message.channel, message.ts, message.user or "", payload)
        if not verdict.held:
            return False
        log.info("follow-up %s/%s (new): held, over the flood limits", message.channel, message.ts)
        if self._alerts is not None:
            self._alerts.held(Scope.FOLLOWUP, message.channel, verdict)
        return True

    def file_held(self, held: HeldItem) -> str | None:
        """An admin filed a held reply: kept as it would have been. None when it is kept now (or
        was already: Slack's retry, another replica); else why it could not be — its thread is
        no longer followed — and it stays held for the admins to see."""
        payload = held.payload
        thread_ts, message = payload.get("thread_ts"), payload.get("message")
        if not isinstance(thread_ts, str) or not isinstance(message, dict):
            log.warning("held item %s could not be read; not filed", held.id)
            return "the held copy could not be read"
        user = payload.get("user")
        kept = self._store.add_reply(
            held.channel_id, thread_ts, held.ts, user if isinstance(user, str) else None, message
        )
        why = None
        if not kept and not self._store.has_reply(held.channel_id, held.ts):
            why = self._not_followed(held, thread_ts)
        log.info(
            "held follow-up %s/%s filed by an admin: %s",
            held.channel_id,
            held.ts,
            "kept" if kept else (why or "kept already"),
        )
        if kept:
            self._on_kept()
        return why

    def _not_followed(self, held: HeldItem, thread_ts: str) -> str:
        """Why a held reply could not be kept, for the admins' Home."""
        thread = self._store.thread(held.channel_id, thread_ts)
        if thread is not None and thread.follow_until > self._store.now():
            where = "its thread was deleted in Productlane"
        else:
            where = "its thread is no longer followed (FOLLOWUP_DAYS passed while it was held)"
        return f"{where}: file it by hand with the message shortcut, or Drop it"

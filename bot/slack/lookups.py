"""Cached Slack lookups: people, channels, user groups, permalinks.

A modal must open within Slack's 3-second trigger window, and one message can mention the same person
many times, so each answer is remembered for a while. A refusal that will not pass by itself (a
missing scope, a deleted user) is remembered for a minute, so it does not cost a round trip per
mention; Slack's passing trouble (rate limited, a 5xx) for a few seconds only. It also backs the
converter's NameResolver: unknown ids still render (as `@U0123`) when Slack does not answer.

A failed lookup is remembered as *unknown* (None), never as a fact: whoever asks whether a channel
is internal or a person is one of ours gets "no" for it (`channel_audience`, `bot.slack.team`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.errors import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")
_MISSING = object()
# conversations.members pages read at most (1,000 people each) before saying "don't know".
MEMBER_PAGES = 50


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str  # what a person would call them: display name, real name, or handle
    real_name: str | None
    email: str | None  # only when Slack shares it (users:read.email, and not hidden)
    team_id: str | None
    is_bot: bool
    is_admin: bool = False  # a workspace admin or owner (of the workspace in team_id)
    # The Enterprise Grid organization the person belongs to (users.info's enterprise_user).
    enterprise_id: str | None = None


@dataclass(frozen=True)
class SlackChannel:
    id: str
    name: str | None
    is_private: bool
    is_im: bool
    is_mpim: bool
    is_shared: bool  # shared with another organization (Slack Connect)
    is_member: bool
    # The workspaces a Slack Connect channel is shared with (ours among them, maybe).
    connected_team_ids: tuple[str, ...] = ()


class Audience(Enum):
    """Who may read a channel, as far as the bot can tell right now."""

    INTERNAL = "internal"  # only our organization: Slack said it is not shared
    SHARED = "shared"  # Slack Connect (or an invitation to it is pending)
    UNKNOWN = "unknown"  # Slack did not say: treated as shared


class TTLCache(Generic[T]):
    """A small thread-safe cache whose entries expire; enough for a bot's lookups."""

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl, self._max, self._clock = ttl, max_entries, clock
        self._entries: dict[str, tuple[float, T | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> object:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < self._clock():
                return _MISSING
            return entry[1]

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def put(self, key: str, value: T | None, ttl: float | None = None) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (self._clock() + (self._ttl if ttl is None else ttl), value)


def _user_from(data: dict[str, Any]) -> SlackUser:
    profile = data.get("profile") or {}
    display = profile.get("display_name") or ""
    real = profile.get("real_name") or data.get("real_name") or None
    return SlackUser(
        id=str(data.get("id")),
        name=display or real or str(data.get("name") or data.get("id")),
        real_name=real,
        email=profile.get("email") or None,
        team_id=data.get("team_id"),
        is_bot=bool(data.get("is_bot")),
        is_admin=bool(data.get("is_admin") or data.get("is_owner") or data.get("is_primary_owner")),
        enterprise_id=_enterprise_of(data),
    )


def _enterprise_of(data: dict[str, Any]) -> str | None:
    grid = data.get("enterprise_user")
    found = grid.get("enterprise_id") if isinstance(grid, dict) else data.get("enterprise_id")
    return found if isinstance(found, str) and found else None


def _channel_from(data: dict[str, Any]) -> SlackChannel:
    return SlackChannel(
        id=str(data.get("id")),
        name=data.get("name"),
        is_private=bool(data.get("is_private")),
        is_im=bool(data.get("is_im")),
        is_mpim=bool(data.get("is_mpim")),
        # A pending invitation counts: the other organization may be reading before it is accepted.
        is_shared=bool(
            data.get("is_ext_shared") or data.get("is_shared") or data.get("is_pending_ext_shared")
        ),
        is_member=bool(data.get("is_member")),
        connected_team_ids=tuple(
            str(team)
            for team in (data.get("connected_team_ids") or data.get("shared_team_ids") or [])
            if isinstance(team, str)
        ),
    )


class SlackLookups:
    """Slack facts the bot needs, each fetched once per TTL."""

    NEGATIVE_TTL = 60.0
    # Slack's passing trouble is not remembered for long: the next question asks again soon.
    TRANSIENT_TTL = 5.0
    # Whether a channel is shared is asked again this often when the bot posts there: a channel
    # may become a Slack Connect channel after feedback from it was filed.
    AUDIENCE_TTL = 60.0

    def __init__(self, client: WebClient, ttl: float = 600.0) -> None:
        self._client = client
        self.users: TTLCache[SlackUser] = TTLCache(ttl)
        self.channels: TTLCache[SlackChannel] = TTLCache(ttl)
        self.permalinks: TTLCache[str] = TTLCache(24 * 3600)
        self.usergroups: TTLCache[dict[str, str]] = TTLCache(ttl)
        self.thread_sizes: TTLCache[int] = TTLCache(60.0)
        self.team_domains: TTLCache[tuple[str, ...]] = TTLCache(24 * 3600)
        self.audiences: TTLCache[Audience] = TTLCache(self.AUDIENCE_TTL)

    @staticmethod
    def cached(cache: TTLCache[T], key: str) -> T | None:
        """What is cached for key, without asking Slack."""
        hit = cache.get(key)
        return None if hit is _MISSING else hit  # type: ignore[return-value]

    def _cached(self, cache: TTLCache[T], key: str, fetch: Callable[[], T]) -> T | None:
        hit = cache.get(key)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        try:
            value: T | None = fetch()
        except SlackApiError as error:
            log.info("Slack lookup %s failed: %s", key, error.response.get("error"))
            cache.put(key, None, self.TRANSIENT_TTL if is_transient(error) else self.NEGATIVE_TTL)
            return None
        except Exception as error:  # a network failure: don't remember it
            log.warning("Slack lookup %s failed: %s", key, type(error).__name__)
            return None
        cache.put(key, value)
        return value

    def user(self, user_id: str) -> SlackUser | None:
        def fetch() -> SlackUser:
            return _user_from(self._client.users_info(user=user_id)["user"])

        return self._cached(self.users, user_id, fetch)

    def people_who_admin(self, pages: int = 50) -> list[SlackUser]:
        """The workspace's admins and owners (users.list, every page up to ``pages`` of 200):
        asked rarely (when a channel goes over a flood limit), so never cached. Raises what Slack
        raises."""
        found: list[SlackUser] = []
        cursor = ""
        for _ in range(pages):
            answer = self._client.users_list(limit=200, cursor=cursor or None)
            for data in answer.get("members") or []:
                if isinstance(data, dict) and not data.get("deleted"):
                    user = _user_from(data)
                    if user.is_admin and not user.is_bot:
                        found.append(user)
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return found

    def channel(self, channel_id: str) -> SlackChannel | None:
        def fetch() -> SlackChannel:
            return _channel_from(self._client.conversations_info(channel=channel_id)["channel"])

        return self._cached(self.channels, channel_id, fetch)

    def channel_audience(self, channel_id: str) -> Audience:
        """Whether the channel is shared with another organization, asked of Slack at most every
        `AUDIENCE_TTL` seconds (the channel's other facts are kept longer). UNKNOWN when Slack does
        not answer: the caller treats it as shared."""
        hit = self.audiences.get(channel_id)
        if hit is not _MISSING and hit is not None:
            return hit  # type: ignore[return-value]
        self.forget_channel(channel_id)
        channel = self.channel(channel_id)
        if channel is None:
            return Audience.UNKNOWN  # remembered only as long as the failed lookup is
        audience = Audience.SHARED if channel.is_shared else Audience.INTERNAL
        self.audiences.put(channel_id, audience)
        return audience

    def channel_is_internal(self, channel_id: str) -> bool:
        """True only when Slack said, within the last minute, that no other organization is in it."""
        return self.channel_audience(channel_id) is Audience.INTERNAL

    def is_channel_member(self, channel_id: str, user_id: str) -> bool | None:
        """Whether ``user_id`` is in the channel now (conversations.members, every page); None
        when Slack does not say. Never cached: it guards reading the channel for them."""
        cursor: str | None = None
        try:
            for _ in range(MEMBER_PAGES):
                page = self._client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
                if user_id in (page.get("members") or []):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return False
        except SlackApiError as error:
            log.info("members of %s: %s", channel_id, error.response.get("error"))
        except Exception as error:  # a network failure
            log.warning("members of %s: %s", channel_id, type(error).__name__)
        return None

    def permalink(self, channel_id: str, ts: str) -> str | None:
        def fetch() -> str:
            return str(self._client.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"])

        return self._cached(self.permalinks, f"{channel_id}/{ts}", fetch)

    def thread_size(self, channel_id: str, thread_ts: str) -> int | None:
        """How many messages the thread has (its parent's reply_count + 1), when Slack lets the bot
        read it (the history scopes, and membership)."""

        def fetch() -> int:
            answer = self._client.conversations_replies(channel=channel_id, ts=thread_ts, limit=1)
            parent = (answer.get("messages") or [{}])[0]
            return int(parent.get("reply_count") or 0) + 1

        return self._cached(self.thread_sizes, f"{channel_id}/{thread_ts}", fetch)

    def team_email_domains(self, team_id: str) -> tuple[str, ...]:
        """The email domains of a workspace (team.info's `email_domain`, which may list several,
        comma-separated): a Slack Connect customer's organization, to find its company (triage).
        Needs team:read; empty when Slack does not say."""

        def fetch() -> tuple[str, ...]:
            team = self._client.team_info(team=team_id).get("team") or {}
            raw = team.get("email_domain") if isinstance(team, dict) else None
            return tuple(part.strip().lower() for part in str(raw or "").split(",") if part.strip())

        return self._cached(self.team_domains, team_id, fetch) or ()

    def forget_channel(self, channel_id: str) -> None:
        """After the bot joins a channel its membership changed: look again next time."""
        self.channels.forget(channel_id)

    def _usergroup_handles(self) -> dict[str, str] | None:
        def fetch() -> dict[str, str]:
            groups = self._client.usergroups_list()["usergroups"] or []
            return {str(group["id"]): str(group.get("handle") or group.get("name")) for group in groups}

        return self._cached(self.usergroups, "all", fetch)

    # NameResolver, for the HTML and plain-text converters:
    def user_name(self, user_id: str) -> str | None:
        user = self.user(user_id)
        return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        channel = self.channel(channel_id)
        return channel.name if channel else None

    def usergroup_handle(self, usergroup_id: str) -> str | None:
        handles = self._usergroup_handles()
        return handles.get(usergroup_id) if handles else None


class CachedNames:
    """A NameResolver that reads only what is already cached: for the ack path, which must not wait."""

    def __init__(self, lookups: SlackLookups) -> None:
        self._lookups = lookups

    def user_name(self, user_id: str) -> str | None:
        user = self._lookups.cached(self._lookups.users, user_id)
        return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        channel = self._lookups.cached(self._lookups.channels, channel_id)
        return channel.name if channel else None

    def usergroup_handle(self, usergroup_id: str) -> str | None:
        handles = self._lookups.cached(self._lookups.usergroups, "all")
        return handles.get(usergroup_id) if handles else None

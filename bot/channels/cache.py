"""Channel settings from memory: what the ack path and delivery read, never waiting on a database.

Every replica keeps its own copy. `refresh` (called about once a second by the process's main thread,
see `Bot.tick`) reads one number, the settings' version, and reloads every channel only when it moved:
a change made anywhere takes effect everywhere within a second or two. The replica that saved a change
refreshes at once. Each refresh also tells `Interest` which channels capture automatically, so the
message fast path decides from memory too.

Reads take no lock: the dict and the tuple are replaced whole, never changed in place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from bot.background import RepeatedFailureLog
from bot.channels.model import ChannelSettings
from bot.channels.store import ChannelSettingsStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0


class ChannelSettingsCache:
    """A `ChannelSettingsSource` kept current from the database."""

    def __init__(
        self,
        store: ChannelSettingsStore,
        *,
        on_automatic: Callable[[Iterable[str]], None] | None = None,
        every_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._on_automatic = on_automatic
        self._every = every_seconds
        self._clock = clock
        self._by_channel: dict[str, ChannelSettings] = {}
        self._all: tuple[ChannelSettings, ...] = ()
        self._version: int | None = None
        self._next_at = 0.0
        self._loading = threading.Lock()
        self._failures = RepeatedFailureLog(log, "reading the channel settings")
        self.reload()

    # -- ChannelSettingsSource

    def for_channel(self, channel_id: str) -> ChannelSettings | None:
        return self._by_channel.get(channel_id)

    def all(self) -> Sequence[ChannelSettings]:
        return self._all

    # -- keeping it current

    @property
    def version(self) -> int | None:
        return self._version

    def tick(self) -> None:
        """Refresh when due; a failure (the database is down) is logged and the old copy kept."""
        if self._clock() < self._next_at:
            return
        self._next_at = self._clock() + self._every
        try:
            self.refresh()
        except Exception as error:
            self._failures.failed(error)
        else:
            self._failures.worked()

    def refresh(self) -> bool:
        """Reload when the settings changed anywhere since the last load; True when it reloaded."""
        if self._store.version() == self._version:
            return False
        return self.reload()

    def reload(self) -> bool:
        with self._loading:
            snapshot = self._store.load()
            if snapshot.version == self._version:
                return False
            self._by_channel = {channel.channel: channel for channel in snapshot.channels}
            self._all = snapshot.channels
            self._version = snapshot.version
            if self._on_automatic is not None:
                automatic = [
                    channel.channel for channel in snapshot.channels if channel.captures_automatically
                ]
                self._on_automatic(automatic)
        log.debug("channel settings at version %d: %d channel(s)", snapshot.version, len(snapshot.channels))
        return True

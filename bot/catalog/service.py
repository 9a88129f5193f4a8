"""The catalog as the bot uses it: Productlane's lists in memory, searchable at once, never waiting
on Productlane or the database; kept current in the background.

- `tick` (the main thread calls it about once a second) reads the lists' versions every
  `RELOAD_SECONDS` (one small query) and reloads a list whose version moved: a refresh by another
  replica reaches this one within a few seconds. It starts the refresher thread when a list is due.
- The refresher thread (`Refresher`) runs only while a list is due and ends when none is, so an idle
  bot holds no thread for the catalog. It refreshes lists whose lease it wins, and swaps each new
  list into memory as soon as it is saved.
- Everything the Slack side asks (`index`, `available`, `name`, `company_for_domain`, …) reads the
  current in-memory snapshot: a dict replaced whole, never changed in place.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from bot.background import RepeatedFailureLog
from bot.budgets.write_limits import WriteLimits
from bot.catalog.entries import Entry, domain_of
from bot.catalog.kinds import Kind
from bot.catalog.refresh import (
    READ_BURST,
    READ_LIMITER_KEY,
    READS_PER_MINUTE,
    ReadBudget,
    Refresher,
    RefreshSettings,
)
from bot.catalog.search import KindIndex
from bot.catalog.store import CatalogStore, KindState
from bot.db import Database
from bot.productlane import ProductlaneClient

__all__ = ["RELOAD_SECONDS", "Catalog"]

log = logging.getLogger(__name__)

RELOAD_SECONDS = 2.0


class Catalog:
    """Productlane's companies, projects, issues, tags and members, in memory."""

    def __init__(
        self,
        store: CatalogStore | None = None,
        refresher: Callable[[threading.Event, Callable[[Kind, int, list[Entry]], None]], Refresher]
        | None = None,
        *,
        reload_seconds: float = RELOAD_SECONDS,
    ) -> None:
        self._store = store
        self._indexes: Mapping[Kind, KindIndex] = {}
        self._loaded: dict[Kind, tuple[str, int]] = {}
        self._states: dict[Kind, KindState] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._refresher = refresher(self._stopping, self._saved) if refresher and store else None
        self._thread: threading.Thread | None = None
        self._reload_every = reload_seconds
        self._recheck_wanted = False
        self._rechecked = False
        self._checked_at = float("-inf")
        self._failures = RepeatedFailureLog(log, "catalog reload")

    @classmethod
    def off(cls) -> Catalog:
        """No catalog (CATALOG_REFRESH_SECONDS=0, or a test): every list is unavailable."""
        return cls()

    @classmethod
    def of(cls, lists: Mapping[Kind, Iterable[Entry]]) -> Catalog:
        """A catalog holding these lists in memory, and nothing else (tests, benchmarks)."""
        catalog = cls()
        for kind, entries in lists.items():
            catalog._swap(kind, KindIndex(entries), ("ok", 1))
        return catalog

    # -- what the bot reads ----------------------------------------------------------------------

    def index(self, kind: Kind) -> KindIndex | None:
        """The list as loaded; None while it is not (the key cannot read it, or not yet loaded)."""
        return self._indexes.get(kind)

    def available(self, kind: Kind) -> bool:
        """Whether a field for this list is worth showing: readable, and not empty."""
        index = self._indexes.get(kind)
        return index is not None and len(index) > 0

    def get(self, kind: Kind, item_id: str) -> Entry | None:
        index = self._indexes.get(kind)
        return index.get(item_id) if index is not None else None

    def name(self, kind: Kind, item_id: str) -> str | None:
        entry = self.get(kind, item_id)
        return entry.name if entry is not None else None

    def company_for_domain(self, email_or_domain: str) -> Entry | None:
        """The company with this domain, or with a parent of it (``eu.acme.com`` → ``acme.com``)."""
        index = self._indexes.get(Kind.COMPANIES)
        domain = domain_of(email_or_domain)
        if index is None or domain is None:
            return None
        labels = domain.split(".")
        for start in range(len(labels) - 1):
            found = index.by_alias(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def member_for_email(self, email: str) -> Entry | None:
        index = self._indexes.get(Kind.MEMBERS)
        return index.by_alias(email.strip()) if index is not None and email.strip() else None

    def states(self) -> Mapping[Kind, KindState]:
        """What the database said about each list at the last check (for the log and health)."""
        return dict(self._states)

    # -- keeping it current ----------------------------------------------------------------------

    def start(self) -> None:
        """A new process: a list never read, or whose last refresh failed, is read now."""
        if self._store is None or self._refresher is None:
            return
        try:
            self._store.recheck(("unknown", "failed"))
        except Exception as error:
            self._failures.failed(error)

    def wanted(self) -> None:
        """Someone is filing feedback (a modal opens): lists the key could not read are asked
        again, once per process (its key may be a new one). Not at start: a bot whose key reads no
        list would load the HTTP client (about 4 MB) just to hear no again while nobody uses it.
        Only sets a flag; the next `tick` does the rest."""
        if not self._rechecked:
            self._recheck_wanted = True

    def tick(self) -> None:
        """Reload what changed, start a refresh that is due. Never raises (the main loop calls it)."""
        if self._store is None or time.monotonic() - self._checked_at < self._reload_every:
            return
        self._checked_at = time.monotonic()
        try:
            if self._recheck_wanted and not self._rechecked:
                self._store.recheck(("unavailable",))
                self._rechecked = True
            self.reload()
        except Exception as error:
            self._failures.failed(error)
            return
        self._failures.worked()
        if self._refresher is not None and self._due():
            self._start_refreshing()

    def refresh_now(self) -> int:
        """Refresh every due list in this thread, then reload: how many were refreshed (tests,
        and a process that wants its lists before it serves anything)."""
        if self._store is None or self._refresher is None:
            return 0
        done = self._refresher.refresh_due()
        self.reload()
        return done

    def reload(self) -> None:
        """Read the lists' versions; load the lists whose version moved since they were loaded."""
        assert self._store is not None  # noqa: S101 - tick checks
        self._states = self._store.states()
        for kind, state in self._states.items():
            if self._loaded.get(kind) == (state.status, state.version):
                continue
            if state.status != "ok":
                self._swap(kind, None, (state.status, state.version))
                continue
            version, entries = self._store.load(kind)
            self._swap(kind, KindIndex(entries), (state.status, version))
            log.info("catalog: %s loaded, %d entries", kind.value, len(entries))

    def _due(self) -> bool:
        assert self._store is not None  # noqa: S101
        now = self._store.now()
        return any(
            state.next_refresh_at <= now and (state.lease_until is None or state.lease_until <= now)
            for state in self._states.values()
        )

    def _saved(self, kind: Kind, version: int, entries: list[Entry]) -> None:
        """The refresher saved a list: it goes into memory at once, without reading it back."""
        self._swap(kind, KindIndex(entries), ("ok", version))

    def _swap(self, kind: Kind, index: KindIndex | None, loaded: tuple[str, int]) -> None:
        with self._lock:
            indexes = dict(self._indexes)
            if index is None:
                indexes.pop(kind, None)
            else:
                indexes[kind] = index
            self._indexes = indexes
            self._loaded[kind] = loaded

    def _start_refreshing(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._refresh, name="catalog-refresh", daemon=True)
            self._thread.start()

    def _refresh(self) -> None:
        assert self._refresher is not None  # noqa: S101
        try:
            self._refresher.refresh_due()
        except Exception:
            log.exception("catalog refresh failed; trying again at the next interval")

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def build_catalog(db: Database, productlane: ProductlaneClient, refresh_seconds: float) -> Catalog:
    """The catalog on the bot's database; off (no fields, no reads) when refresh_seconds is 0."""
    if refresh_seconds <= 0:
        return Catalog.off()
    store = CatalogStore(db)
    limits = WriteLimits(db)
    owner = f"catalog-{uuid.uuid4().hex[:8]}"

    def read_slot() -> float:
        return limits.reserve_write_slot(READ_LIMITER_KEY, rate_per_minute=READS_PER_MINUTE, burst=READ_BURST)

    def pause_reads(seconds: float) -> None:
        limits.pause_writes(READ_LIMITER_KEY, db.now() + timedelta(seconds=seconds))

    def refresher(stopping: threading.Event, saved: Callable[[Kind, int, list[Entry]], None]) -> Refresher:
        return Refresher(
            store,
            productlane,
            RefreshSettings(owner=owner, interval=refresh_seconds),
            ReadBudget(slot=read_slot, pause=pause_reads),
            saved=saved,
            stopping=stopping,
        )

    return Catalog(store, refresher)

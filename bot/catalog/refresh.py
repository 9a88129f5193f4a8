"""Reading Productlane's lists into the catalog, within a read budget shared by every replica.

Each list is read whole, page by page (cursor pagination), by the one process holding its lease
(see `CatalogStore.claim`), then saved as a diff. Every page read first takes a slot of the
catalog's read budget — 200 reads a minute for all replicas together, one GCRA bucket in the
outbox's database (`WriteLimits`, keyed ``productlane:catalog-reads``), beside polling's 300 and
well inside Productlane's 1,000 GETs a minute per key. A refresh of 5,000 issues, 500 projects,
3,000 companies, 300 tags and 200 members at 100 a page is 90 reads: under a minute, every
`CATALOG_REFRESH_SECONDS`.

What can go wrong, and what stays:
- 403 (the key lacks the list's scope) or 404 (Productlane serves no such list): the list is
  ``unavailable``, its field leaves the modal; it is asked again once a day, and once per process
  when the first modal opens (see `Catalog.wanted`).
- Anything else (network, 5xx, 429, an answer that is not a list): the refresh is dropped whole —
  never half a list, which would look like deletions — and the last good entries stay. Tried again
  in a minute (after Retry-After for a 429, which also pauses the budget for every replica).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.catalog.entries import Entry, entry_from
from bot.catalog.kinds import READ_SCOPES, Kind
from bot.catalog.store import CatalogStore
from bot.productlane import (
    AuthenticationError,
    NotFoundError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ScopeError,
    ValidationError,
)

__all__ = [
    "READS_PER_MINUTE",
    "READ_LIMITER_KEY",
    "LeaseLost",
    "ReadBudget",
    "RefreshSettings",
    "Refresher",
    "unreadable_detail",
]

log = logging.getLogger(__name__)

READ_LIMITER_KEY = "productlane:catalog-reads"
READS_PER_MINUTE = 200
READ_BURST = 10
PAGE_SIZE = 100
# A list longer than this is cut (and the log says so): it bounds memory and one refresh's reads.
MAX_ENTRIES = 20_000
LEASE_SECONDS = 60.0
RETRY_SECONDS = 60.0
# A list the key may not read is asked again a day later (and once per process, when someone first
# files feedback: a new key usually comes with a restart), not every interval: each refusal is a
# warning in the log.
UNAVAILABLE_RECHECK_SECONDS = 24 * 3600.0
# Waiting for a slot of the read budget is done in steps, so a stop is noticed.
WAIT_STEP_SECONDS = 5.0


class LeaseLost(Exception):
    """Another process took the list over (our lease ran out): stop, write nothing."""


class Stopped(Exception):
    """The bot is stopping."""


def unreadable_detail(kind: Kind, error: ScopeError | NotFoundError) -> str:
    """Why the key cannot read a list, with the scope that would add it."""
    if isinstance(error, NotFoundError):
        return f"Productlane does not serve GET /{kind.value}"
    needed = ", ".join(error.required) or READ_SCOPES[kind]
    return f"the key lacks {needed}"


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    """How a process refreshes the lists: who holds their leases, how often each is read again, and
    how it is read (entries a page, and at most how many in all)."""

    owner: str
    interval: float
    """Seconds between refreshes of a list (and before a refused key is tried again)."""
    page_size: int = PAGE_SIZE
    max_entries: int = MAX_ENTRIES


@dataclass(frozen=True, slots=True)
class ReadBudget:
    """The catalog's read budget, shared by every replica: ``slot`` takes a read's slot and says how
    long to wait before it (0: at once), ``pause`` stops every replica's reads for that many seconds
    (Productlane answered 429)."""

    slot: Callable[[], float]
    pause: Callable[[float], None]


class Refresher:
    """Refreshes the lists that are due, one at a time, until none is (or the bot stops)."""

    def __init__(
        self,
        store: CatalogStore,
        productlane: ProductlaneClient,
        settings: RefreshSettings,
        budget: ReadBudget,
        *,
        saved: Callable[[Kind, int, list[Entry]], None],
        stopping: threading.Event,
    ) -> None:
        self._store = store
        self._productlane = productlane
        self._owner = settings.owner
        self._interval = settings.interval
        self._read_slot = budget.slot
        self._pause_reads = budget.pause
        self._saved = saved
        self._stopping = stopping
        self._page_size = settings.page_size
        self._max_entries = settings.max_entries

    def refresh_due(self) -> int:
        """Claim and refresh due lists until none is left; how many were refreshed."""
        done = 0
        while not self._stopping.is_set():
            kind = self._store.claim(self._owner, LEASE_SECONDS)
            if kind is None:
                return done
            self.refresh(kind)
            done += 1
        return done

    def refresh(self, kind: Kind) -> None:
        """Read the whole list (this process holds its lease) and save it, or say why not."""
        started = time.monotonic()
        try:
            fetched = self._fetch(kind)
        except (LeaseLost, Stopped):
            return
        except (ScopeError, NotFoundError) as error:
            detail = unreadable_detail(kind, error)
            log.info("catalog: %s unavailable (%s); its field is left out of the modal", kind.value, detail)
            self._give_up(kind, "unavailable", detail, max(self._interval, UNAVAILABLE_RECHECK_SECONDS))
            return
        except RateLimitedError as error:
            wait = error.retry_after if error.retry_after is not None else RETRY_SECONDS
            self._pause_reads(wait)
            log.info("catalog: %s refresh rate limited; again in %.0f s", kind.value, wait)
            self._give_up(kind, "failed", "rate limited by Productlane", wait)
            return
        except AuthenticationError as error:
            log.warning("catalog: %s refresh refused: %s", kind.value, error.code)
            self._give_up(kind, "failed", f"Productlane refused the key ({error.code})", self._interval)
            return
        except ProductlaneError as error:
            log.warning("catalog: %s refresh failed (%s); again in %.0f s", kind.value, error, RETRY_SECONDS)
            self._give_up(
                kind,
                "failed",
                f"the last refresh failed ({error.code or type(error).__name__})",
                RETRY_SECONDS,
            )
            return
        next_at = self._store.now() + timedelta(seconds=self._interval)
        saved = self._store.save(kind, self._owner, fetched, next_at)
        if saved is None:
            log.info("catalog: %s was taken over by another process; not saved", kind.value)
            return
        version, changed = saved
        # A refresh that changed nothing is not news (one every CATALOG_REFRESH_SECONDS).
        log.log(
            logging.INFO if changed else logging.DEBUG,
            "catalog: %s refreshed, %d entries%s (%.1f s)",
            kind.value,
            len(fetched),
            "" if changed else ", unchanged",
            time.monotonic() - started,
        )
        if changed:
            self._saved(kind, version, fetched)

    def _give_up(self, kind: Kind, status: str, detail: str, wait: float) -> None:
        self._store.give_up(kind, self._owner, status, detail, self._store.now() + timedelta(seconds=wait))

    def _fetch(self, kind: Kind) -> list[Entry]:
        found: dict[str, Entry] = {}
        cursor: str | None = None
        seen: set[str] = set()
        limit: int | None = self._page_size
        renewed = time.monotonic()
        while True:
            self._wait_for_read(kind)
            try:
                page = self._productlane.list_page(kind.value, limit=limit, cursor=cursor)
            except ValidationError as error:
                if limit is None or not any("limit" in path for path, _ in error.field_errors):
                    raise
                limit = None  # Productlane takes no page size here: its own default then
                continue
            for raw in page.items:
                entry = entry_from(kind, raw)
                if entry is not None:
                    found.setdefault(entry.id, entry)
            if len(found) >= self._max_entries:
                log.warning(
                    "catalog: %s has more than %d entries; keeping the first", kind.value, self._max_entries
                )
                return list(found.values())[: self._max_entries]
            if page.cursor is None or page.cursor in seen:
                return list(found.values())
            seen.add(page.cursor)
            cursor = page.cursor
            if time.monotonic() - renewed > LEASE_SECONDS / 3:
                if not self._store.renew(kind, self._owner, LEASE_SECONDS):
                    raise LeaseLost
                renewed = time.monotonic()

    def _wait_for_read(self, kind: Kind) -> None:
        """Take a slot of the shared read budget, waiting (and keeping the lease) as long as it takes."""
        while True:
            if self._stopping.is_set():
                raise Stopped
            wait = self._read_slot()
            if wait <= 0:
                return
            if self._stopping.wait(min(wait, WAIT_STEP_SECONDS)):
                raise Stopped
            if not self._store.renew(kind, self._owner, LEASE_SECONDS):
                raise LeaseLost

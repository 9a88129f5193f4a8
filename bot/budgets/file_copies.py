"""Copying a submission's Slack files into Productlane, in the delivery worker, exactly once each.

For each file: what is already recorded for the item is used as it is (a retry or a restart never
uploads again). Otherwise the file is checked before anything is downloaded (deleted, hidden behind
files.info, over 10 MB, a type Productlane refuses), then, within Productlane's budgets — 30 uploads
a minute and 500 a day per workspace, each also one of the 60 writes a minute shared with thread
creation, all counted in the outbox's database across replicas — downloaded with a size cap and
uploaded. The outcome (the copy's URL, or a note why the file stays a link to Slack) is recorded
with the item by its lease owner straight after. A file that cannot be copied never stops the
feedback: only passing trouble (rate limits, an outage) makes the item wait, and not for ever.

Two shares keep one flood from spending what everyone shares: each channel may take at most
``uploads_per_channel_per_day`` of the day's uploads (one flooding channel cannot use up the
workspace's 500), and one piece of work copies at most its first ``files_per_copy`` files ("include
the whole thread" on a thread of 300 screenshots). What does not fit stays a link to Slack, with a
note saying why, as when the day's uploads run out: never lost.

Where the outcomes are kept is a `CopyLedger`: an outbox item's (`bot.delivery.copies.ItemLedger`),
or any other work held under a lease — the follow-ups of a conversation keep theirs beside their own
rows — so every file that goes to Productlane is copied the same way, within the same shared budgets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from bot import metrics
from bot.budgets.schema import daily_counts
from bot.budgets.write_limits import WriteLimits
from bot.db import Database
from bot.feedback.capture import CopiedFile, FileUnavailable, SlackFile, TryLater, over_file_share
from bot.productlane import (
    AuthenticationError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ScopeError,
    ValidationError,
)
from bot.productlane.uploads import (
    MAX_UPLOAD_BYTES,
    UPLOADS_PER_DAY,
    UPLOADS_PER_MINUTE,
    megabytes,
    upload_refusal,
)

log = logging.getLogger(__name__)

# How long passing trouble (Slack or Productlane down, rate limits) may hold a submission's files
# before the feedback goes without them: the files then stay links to Slack, with a note.
FILE_PATIENCE = timedelta(minutes=10)
NOTE_MAX = 500
RETRY_SECONDS = 15.0  # after passing trouble that names no wait
# Uploads are paced one under Productlane's 30 a minute. The limiter counts when a slot is taken,
# Productlane when the upload arrives; paced at exactly 30, an upload that reaches it a few
# milliseconds sooner after its slot than the one 30 before makes 31 in a minute (a 429, measured
# by bench_capture). The headroom (2 s a minute) absorbs that.
UPLOAD_PACE_PER_MINUTE = UPLOADS_PER_MINUTE - 1
# The defaults of UPLOADS_PER_CHANNEL_PER_DAY and FILES_PER_SUBMISSION (bot.settings).
UPLOADS_PER_CHANNEL_PER_DAY = 100
FILES_PER_COPY = 20


def copy_columns(copy: CopiedFile) -> dict[str, Any]:
    """A copy as the columns a ledger keeps it in (every ledger's table has these), each cut to its
    column's size."""
    return {
        "url": copy.url,
        "note": copy.note[:NOTE_MAX] if copy.note else None,
        "name": (copy.name or "")[:255] or None,
        "permalink": copy.permalink,
        "content_type": (copy.content_type or "")[:255] or None,
    }


def copy_from_row(row: sa.Row[Any]) -> CopiedFile:
    """A copy as a ledger's row keeps it (the columns of `copy_columns`)."""
    m = row._mapping
    return CopiedFile(
        url=m["url"], note=m["note"], name=m["name"], permalink=m["permalink"], content_type=m["content_type"]
    )


class FileSource(Protocol):
    """Where the files come from (the Slack side)."""

    def resolve(self, file: SlackFile) -> SlackFile:
        """The whole file object for a hidden one (files.info). Raises `FileUnavailable`, `TryLater`."""
        ...

    def download(self, file: SlackFile, max_bytes: int) -> bytes:
        """The file's bytes, at most ``max_bytes``. Raises `FileUnavailable`, `TryLater`."""
        ...


class CopyLedger(Protocol):
    """What became of each file of one piece of work, kept by whoever holds that work (a lease)."""

    @property
    def started_at(self) -> datetime:
        """When the work was accepted: passing trouble may hold its files for `FILE_PATIENCE`."""
        ...

    @property
    def label(self) -> str:
        """Names the work in log lines (ids only)."""
        ...

    def copies(self) -> dict[str, CopiedFile]:
        """What is recorded, by Slack file id."""
        ...

    def record(self, file_id: str, copy: CopiedFile) -> bool:
        """Keep one outcome; False when the work is no longer ours (nothing is kept)."""
        ...

    def renew(self) -> bool:
        """Extend the lease (a long download, a wait for a slot); False when it is lost."""
        ...

    def wait_before_writing(self) -> float:
        """Seconds to hold back before taking one of the shared writes (0: go). Lower-priority work
        (follow-ups) yields to new feedback here."""
        ...


class CopyLater(Exception):
    """Stop here and try the item again in ``wait`` seconds (what was copied so far is kept)."""

    def __init__(self, reason: str, wait: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class LeaseLost(Exception):
    """Another worker holds the item now: leave it alone."""


class KeyRefused(Exception):
    """Productlane refused the API key itself during an upload: delivery must pause."""

    def __init__(self, error: ProductlaneError) -> None:
        super().__init__(str(error))
        self.error = error


# --- the daily budget --------------------------------------------------------------------------


def take_daily(db: Database, key: str, limit: int, *, now: datetime | None = None) -> bool:
    """Take one of ``limit`` units of today's (UTC) budget for ``key``; False when none is left."""
    return take_daily_all(db, [(key, limit)], now=now)


class _Spent(Exception):
    """One of the budgets taken together had nothing left: what the others gave is rolled back."""


def take_daily_all(db: Database, budgets: Sequence[tuple[str, int]], *, now: datetime | None = None) -> bool:
    """Take one unit of each of today's (UTC) ``(key, limit)`` budgets, all or none; False when any
    has none left (then nothing is taken)."""
    day = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    try:
        with db.writing() as connection:
            for key, limit in budgets:
                connection.execute(
                    db.insert_for(daily_counts)
                    .values(key=key, day=day, used=0)
                    .on_conflict_do_nothing(index_elements=[daily_counts.c.key, daily_counts.c.day])
                )
                taken = connection.execute(
                    sa.update(daily_counts)
                    .where(daily_counts.c.key == key, daily_counts.c.day == day, daily_counts.c.used < limit)
                    .values(used=daily_counts.c.used + 1)
                ).rowcount
                if int(taken) != 1:
                    raise _Spent
    except _Spent:
        return False
    return True


def daily_left(db: Database, key: str, limit: int, *, now: datetime | None = None) -> bool:
    """Whether any of today's (UTC) ``limit`` units for ``key`` is left (a read; takes nothing)."""
    day = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    query = sa.select(daily_counts.c.used).where(daily_counts.c.key == key, daily_counts.c.day == day)
    with db.reading() as connection:
        used = connection.execute(query).scalar()
    return int(used or 0) < limit


# --- the copier ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopierSettings:
    """The budgets a copier works within (the write budget it shares, Productlane's uploads, each
    channel's share of the day's, the files one piece of work copies), how long passing trouble may
    hold the files, and the lease of the work it copies for."""

    limiter_key: str
    """Names the write budget every replica shares; the uploads' budget is named after it."""
    lease_seconds: float
    """The lease of the work held while copying, renewed while waiting for a slot."""
    write_rate_per_minute: int = 60
    write_burst: int = 1
    uploads_per_minute: int = UPLOAD_PACE_PER_MINUTE
    uploads_per_day: int = UPLOADS_PER_DAY
    uploads_per_channel_per_day: int = UPLOADS_PER_CHANNEL_PER_DAY
    files_per_copy: int = FILES_PER_COPY
    """The most files one piece of work copies; the rest stay links to Slack."""
    patience: timedelta = FILE_PATIENCE


class FileCopier:
    """Copies an item's files into Productlane for the worker that holds the item."""

    def __init__(
        self,
        db: Database,
        productlane: ProductlaneClient,
        source: FileSource,
        settings: CopierSettings,
        *,
        stopping: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = db
        self._limits = WriteLimits(db)
        self._productlane = productlane
        self._source = source
        self._write_key = settings.limiter_key
        self._upload_key = f"{settings.limiter_key}:uploads"
        self._lease = settings.lease_seconds
        self._write_rate = settings.write_rate_per_minute
        self._write_burst = settings.write_burst
        self._upload_rate = settings.uploads_per_minute
        self._per_day = settings.uploads_per_day
        self._per_channel = settings.uploads_per_channel_per_day
        self._files_per_copy = settings.files_per_copy
        self._patience = settings.patience
        self._stopping = stopping or threading.Event()
        self._sleep = sleep
        self._told_scope = False

    def copy_into(
        self, ledger: CopyLedger, files: Sequence[SlackFile], *, channel_id: str | None = None
    ) -> dict[str, CopiedFile]:
        """What became of each of ``files`` (by id), copying those ``ledger`` holds no outcome for.
        ``channel_id``: the Slack channel the work comes from, whose daily share of uploads it takes.
        Only the first `files_per_copy` files are copied; the rest stay links to Slack."""
        done = ledger.copies() if files else {}
        for number, file in enumerate(files):
            if file.id in done:
                continue
            if number >= self._files_per_copy:
                copy = CopiedFile(
                    None,
                    over_file_share(self._files_per_copy),
                    file.name or None,
                    file.permalink,
                    file.content_type or None,
                )
            else:
                copy = self._copy_one(ledger, file, channel_id)
            if not ledger.record(file.id, copy):
                raise LeaseLost(ledger.label)
            metrics.upload(copied=copy.url is not None)
            if copy.url:
                log.info("%s: file %s copied into Productlane", ledger.label, file.id)
            else:
                log.info("%s: file %s stays a link to Slack (%s)", ledger.label, file.id, copy.note)
            done[file.id] = copy
        return {file.id: done[file.id] for file in files if file.id in done}

    def _patient(self, ledger: CopyLedger) -> bool:
        return datetime.now(UTC) - ledger.started_at < self._patience

    def _copy_one(self, ledger: CopyLedger, file: SlackFile, channel_id: str | None) -> CopiedFile:
        if file.gone:
            return CopiedFile(None, "it was deleted in Slack")
        learned = file
        try:
            if file.hidden:
                learned = self._source.resolve(file)
        except FileUnavailable as unavailable:
            return CopiedFile(None, unavailable.note)
        except TryLater as later:
            return CopiedFile(None, self._later_or_note(ledger, later.reason, later.retry_after, "Slack"))

        def kept(note: str) -> CopiedFile:
            return CopiedFile(
                None, note, learned.name or None, learned.permalink, learned.content_type or None
            )

        refusal = upload_refusal(learned.content_type, learned.size, learned.label())
        if refusal is not None:
            return kept(refusal)
        budgets = [(self._upload_key, self._per_day)]
        if channel_id:
            budgets.append((f"{self._upload_key}:channel:{channel_id}", self._per_channel))
        spent = self._spent_note(budgets)
        if spent is not None:
            return kept(spent)  # nothing downloaded for an upload that cannot happen today
        self._renew(ledger)
        try:
            data = self._source.download(learned, MAX_UPLOAD_BYTES)
        except FileUnavailable as unavailable:
            return kept(unavailable.note)
        except TryLater as later:
            return kept(self._later_or_note(ledger, later.reason, later.retry_after, "Slack"))
        if len(data) > MAX_UPLOAD_BYTES:  # the source's cap should have stopped it; never send it
            return kept(f"over Productlane's {megabytes(MAX_UPLOAD_BYTES)} limit")
        # The slots are taken right before the upload goes out: Productlane counts arrivals, so
        # a download between the slot and the send would bunch uploads up past its limit.
        held = ledger.wait_before_writing()
        if held > 0:
            raise CopyLater("new feedback goes first", held)
        self._wait_for_slot(ledger, self._upload_key, self._upload_rate, 1)
        self._wait_for_slot(ledger, self._write_key, self._write_rate, self._write_burst)
        if not take_daily_all(self._db, budgets):
            # Another worker took the last one in between: say which ran out.
            return kept(
                self._spent_note(budgets)
                or f"Productlane's limit of {self._per_day} uploads a day was reached"
            )
        self._renew(ledger)
        name = learned.name or f"{learned.id}"
        try:
            uploaded = self._productlane.upload_file(name, learned.content_type, data)
        except RateLimitedError as limited:
            wait = limited.retry_after if limited.retry_after is not None else 60.0
            until = datetime.now(UTC) + timedelta(seconds=wait)
            self._limits.pause_writes(self._upload_key, until)
            self._limits.pause_writes(self._write_key, until)
            raise CopyLater("Productlane rate-limited an upload", wait) from limited
        except AuthenticationError as refused:
            raise KeyRefused(refused) from refused
        except ScopeError:
            if not self._told_scope:
                self._told_scope = True
                log.warning(
                    "Productlane refused a file upload: the API key lacks files:write. Files stay "
                    "links to Slack until the key has it (Productlane → Settings → API)."
                )
            return kept("the bot's Productlane key may not upload files (files:write)")
        except ValidationError as refused:
            return kept(f"Productlane refused it: {refused.message.rstrip('.')}")
        except ProductlaneError as error:
            if error.status == 413:
                return kept(f"over Productlane's {megabytes(MAX_UPLOAD_BYTES)} limit")
            if error.retryable or error.status is None or error.status >= 500:
                reason = error.code or type(error).__name__
                return kept(self._later_or_note(ledger, reason, None, "Productlane"))
            return kept(f"Productlane refused it ({error.code or error.status})")
        if not uploaded.url:
            return kept("Productlane's answer held no link to the copy")
        return CopiedFile(uploaded.url, None, learned.name or None, learned.permalink, learned.content_type)

    def _spent_note(self, budgets: Sequence[tuple[str, int]]) -> str | None:
        """Why no upload is left today (the workspace's, or the channel's share), or None."""
        for number, (key, limit) in enumerate(budgets):
            if not daily_left(self._db, key, limit):
                if number == 0:
                    return f"Productlane's limit of {limit} uploads a day was reached"
                return f"this channel's share of {limit} uploads a day was used up"
        return None

    def _later_or_note(self, ledger: CopyLedger, reason: str, retry_after: float | None, who: str) -> str:
        """Passing trouble: raise `CopyLater` to try the item again later, unless it has waited long
        enough already; then the note for a file that goes without its copy."""
        if self._patient(ledger):
            raise CopyLater(reason, retry_after if retry_after is not None else RETRY_SECONDS)
        return f"{who} did not answer in time ({reason})"

    def _wait_for_slot(self, ledger: CopyLedger, key: str, rate: int, burst: int) -> None:
        """Take a slot of the limiter ``key``, sleeping for it when the wait is short (the lease is
        renewed after each sleep: two waits in a row must not outlast it); give the item back when
        the wait is long."""
        while True:
            wait = self._limits.reserve_write_slot(key, rate_per_minute=rate, burst=burst)
            if wait <= 0:
                return
            if wait > self._lease / 2 or self._stopping.is_set():
                raise CopyLater("waiting for Productlane's upload rate limit", wait)
            self._sleep(wait)
            self._renew(ledger)

    def _renew(self, ledger: CopyLedger) -> None:
        if not ledger.renew():
            raise LeaseLost(ledger.label)


def purge_daily_counts(db: Database, *, now: datetime | None = None) -> None:
    """Forget daily counts older than yesterday."""
    yesterday = ((now or datetime.now(UTC)) - timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%d")
    with db.writing() as connection:
        connection.execute(sa.delete(daily_counts).where(daily_counts.c.day < yesterday))

"""Sending follow-ups to Productlane: one batch per thread per write, once each, in Slack's order.

For one thread at a time (under its lease):

1. The batch: the one in flight, else up to `BATCH_MAX` waiting follow-ups, oldest first. Follow-ups
   wait `GATHER_SECONDS` after the first of them arrived, and a thread gets at most one write every
   `SPACING_SECONDS`: replies written close together go together.
2. A batch whose write began but whose answer never came (a timeout, a 5xx, a crash) may be in
   Productlane: its comment is looked for (`GET /threads/{id}/comments`, the link to its first reply
   is in it) before it is sent again. A re-rendered body (the fallback) is simply sent again.
3. The content: comments carry the batch (`compose.followup_html`); the fallback re-renders the whole
   body (`whole_thread`). Files are copied first, as capture copies them (`FileCopier`).
4. The write: only while no new feedback waits (`NewFeedbackFirst`), and within the shared budget
   (`WriteLimits`, 60 a minute per workspace, with delivery). The batch is marked attempted just
   before the request goes out; a reply deleted or edited after composing makes it compose again.
5. The outcome: sent; nothing sent (429, no connection: try again later); unknown (look first next
   time); comments refused for this thread (404, 405, 501, or a 403 naming comments:write: this
   thread alone switches to the fallback, and tries comments again after an hour); the batch
   refused for its content (400, 422 …: that batch alone is kept as refused, shown to the admins,
   and nothing else changes); the key refused (delivery's pause, on every replica); the thread gone
   (its follow-ups are dropped and the thread is followed no more).

The fallback never overwrites a body someone changed in Productlane: before each re-render the
thread is read, and its body must be the one the bot last wrote (its SHA-256, kept from the
creation and from each re-render). When it is not (or cannot be told), the batch goes as a comment
after all; if comments are refused too, it is kept as refused for the admins. A thread followed
before the fingerprint was kept has none: its body is compared with the one the bot filed, composed
again from the kept submission (`WholeThread.as_filed`), and adopted as its fingerprint when equal.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.budgets.file_copies import CopyLater, FileCopier, KeyRefused, LeaseLost
from bot.budgets.key_pause import KEY_PROBE_SECONDS, KeyPause, key_problem
from bot.budgets.write_limits import WriteLimits
from bot.conversation.compose import ReplyView, followup_html
from bot.conversation.priority import NewFeedbackFirst
from bot.conversation.store import Batch, FollowUpStore, ThreadWork
from bot.conversation.whole_thread import BodyUnavailable, WholeThread
from bot.feedback.capture import CopiedFile, TryLater, slack_files
from bot.productlane import (
    AuthenticationError,
    CreateComment,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ScopeError,
    ServerError,
    UpdateThread,
)
from bot.productlane.models import body_fingerprint
from bot.render.names import NameResolver

__all__ = ["COMMENTS", "PATCH", "FollowUpSender", "SenderSettings", "SharedWrites"]

log = logging.getLogger(__name__)

COMMENTS = "comments"
PATCH = "patch"
COMMENT_SCOPE = "comments:write"
GATHER_SECONDS = 5.0
SPACING_SECONDS = 10.0
BATCH_MAX = 20
LEASE_SECONDS = 60.0
RETRY_COMMENTS_AFTER = timedelta(hours=1)
LOOK_PAGES = 5
# While new feedback waits, the sender looks again this often.
YIELD_SECONDS = 1.0
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0
# Why the fallback leaves the body of a thread filed before the bot kept its body's fingerprint,
# when the body is no longer (or cannot be shown to be) the one the bot filed.
PREDATES_FINGERPRINT = (
    "this thread predates the bot's body fingerprint and its body cannot be matched to what the bot "
    "filed; its body is not overwritten"
)


class SlackSide(Protocol):
    @property
    def names(self) -> NameResolver: ...

    def author(self, user_id: str | None, message: Any) -> str: ...

    def permalink(self, channel_id: str, ts: str) -> str: ...


class _Ledger:
    """Where the copies of a thread's follow-up files are kept while the sender holds the thread."""

    def __init__(
        self, sender: FollowUpSender, work: ThreadWork, started_at: datetime, file_ids: list[str]
    ) -> None:
        self._sender = sender
        self._work = work
        self._started_at = started_at
        self._file_ids = file_ids

    @property
    def started_at(self) -> datetime:
        return self._started_at

    @property
    def label(self) -> str:
        return f"follow-ups of thread {self._work.thread_id}"

    def copies(self) -> dict[str, CopiedFile]:
        return self._sender.store.copies(self._file_ids)

    def record(self, file_id: str, copy: CopiedFile) -> bool:
        return self._sender.store.record_copy(self._work, self._sender.owner, file_id, copy)

    def renew(self) -> bool:
        return self._sender.store.renew(self._work, self._sender.owner, self._sender.lease_seconds)

    def wait_before_writing(self) -> float:
        return YIELD_SECONDS if self._sender.new_feedback.waiting() else 0.0


class _Released(Exception):
    """The thread was given back (a wait too long to hold it for): stop working on it."""


def _backoff(attempt: int) -> float:
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, attempt - 1))
    return base / 2 + base / 2 * random.random()  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How the sender paces itself: its share of the write budget, its leases on threads, and how
    long replies gather before they go together."""

    limiter_key: str
    """Names the write budget every replica shares with delivery."""
    owner: str
    """Who holds this sender's leases."""
    rate_per_minute: int = 60
    burst: int = 1
    lease_seconds: float = LEASE_SECONDS
    gather_seconds: float = GATHER_SECONDS
    """Follow-ups wait this long after the first of them arrived."""
    spacing_seconds: float = SPACING_SECONDS
    """A thread gets at most one write this often."""


@dataclass(frozen=True, slots=True)
class SharedWrites:
    """What follow-ups share with delivery: the write budget every replica draws on, the pause for
    a refused key, and the rule that new feedback goes first."""

    limits: WriteLimits
    pauses: KeyPause
    new_feedback: NewFeedbackFirst


class FollowUpSender:
    def __init__(
        self,
        store: FollowUpStore,
        productlane: ProductlaneClient,
        slack: SlackSide,
        whole_thread: WholeThread,
        copier: FileCopier,
        shared: SharedWrites,
        *,
        settings: SenderSettings,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self._productlane = productlane
        self._slack = slack
        self._whole_thread = whole_thread
        self._copier = copier
        self.new_feedback = shared.new_feedback
        self._limits = shared.limits
        self._pauses = shared.pauses
        self._key = settings.limiter_key
        self.owner = settings.owner
        self._rate = settings.rate_per_minute
        self._burst = settings.burst
        self.lease_seconds = settings.lease_seconds
        self._gather = settings.gather_seconds
        self._spacing = settings.spacing_seconds
        self._stopping = stopping or threading.Event()
        self._failures: dict[tuple[str, str], int] = {}
        self._told_fallback = False
        self._told_predates: set[str] = set()

    # --- one pass --------------------------------------------------------------------------------

    def send_due(self) -> bool:
        """Send one thread's due batch; True when there was one (another may be due)."""
        if not self.store.waiting() or self._pauses.key_problem(self._key) is not None:
            return False
        work = self.store.claim_thread(self.owner, self.lease_seconds, self._gather)
        if work is None:
            return False
        try:
            self._send(work)
        except _Released:
            pass
        except LeaseLost:
            log.warning("follow-ups of thread %s: lease lost; another replica has them", work.thread_id)
        except Exception as error:
            wait = self._failed(work)
            log.exception("follow-ups of thread %s failed; trying again in %.0f s", work.thread_id, wait)
            self._release(work, wait, repr(error))
        return True

    def seconds_until_due(self) -> float | None:
        """How long until a thread's follow-ups come due (0 when one is already); None when none
        waits."""
        due = self.store.next_due_at(self._gather)
        if due is None:
            return None
        return max(0.0, (due - self._now()).total_seconds())

    def _now(self) -> datetime:
        return self.store.now()

    def _release(self, work: ThreadWork, wait: float | None = None, error: str | None = None) -> None:
        not_before = None if wait is None else self._now() + timedelta(seconds=wait)
        self.store.release(work, self.owner, not_before=not_before, error=error)

    def _failed(self, work: ThreadWork) -> float:
        key = (work.channel_id, work.thread_ts)
        self._failures[key] = self._failures.get(key, 0) + 1
        return _backoff(self._failures[key])

    def _send(self, work: ThreadWork) -> None:
        route = self._route(work)
        batch = self.store.open_batch(work, self.owner, route, BATCH_MAX)
        if batch is None:
            self._release(work)
            return
        if batch.attempted and batch.route == COMMENTS:
            found = self._look_for(work, batch)
            if found is not None:
                log.info(
                    "follow-ups of thread %s: comment %s from an earlier attempt found; not sent again",
                    work.thread_id,
                    found,
                )
                self._settle(work, batch, found, ())
                return
        elif not batch.attempted and batch.route != route and not batch.keep_body:
            batch = self.store.set_batch_route(work, self.owner, batch, route)
        if batch.route == PATCH:
            batch = self._body_unchanged_or_comment(work, batch)
        for _ in range(3):
            content, gone = self._content(work, batch)
            self._wait_for_write(work)
            sent_body = body_fingerprint(content) if batch.route == PATCH else None
            if self.store.mark_attempt(work, self.owner, batch, self.lease_seconds, body_sha256=sent_body):
                self._write(work, batch, content, gone)
                return
            # A reply of the batch was edited or deleted since it was composed: compose it again.
            again = self.store.open_batch(work, self.owner, batch.route, BATCH_MAX)
            if again is None:
                self._release(work)
                return
            batch = again
        self._release(work, 1.0)

    # --- which way ---------------------------------------------------------------------------------

    def _route(self, work: ThreadWork) -> str:
        """This thread's route: what Productlane answered about it, never about another thread."""
        stored = work.route
        if stored is None or stored.route == COMMENTS:
            return COMMENTS
        if stored.retry_at is not None and stored.retry_at <= self._now():
            return COMMENTS  # the key may have been given comments:write meanwhile: try again
        return PATCH

    def _fall_back(self, work: ThreadWork, batch: Batch, reason: str) -> None:
        self.store.set_thread_route(work, PATCH, reason, self._now() + RETRY_COMMENTS_AFTER)
        log.log(
            logging.INFO if self._told_fallback else logging.WARNING,
            "Productlane refused follow-ups of thread %s as comments (%s): that thread's reach "
            "Productlane by re-rendering its body (PATCH /threads/{id}), never over a change made in "
            "Productlane; comments are tried again in an hour. `productlane-slack check` shows the route.",
            work.thread_id,
            reason,
        )
        self._told_fallback = True
        self.store.set_batch_route(work, self.owner, batch, PATCH)
        self._release(work, 0.0)

    def _body_unchanged_or_comment(self, work: ThreadWork, batch: Batch) -> Batch:
        """The batch as it may go: re-rendering the body only while Productlane's body is the one
        the bot last wrote (or the one this batch's earlier attempt sent); else as a comment."""
        try:
            current: str | None = body_fingerprint(self._productlane.get_thread(work.thread_id).text)
        except NotFoundError:
            self._gone(work, batch)
            raise _Released from None
        except (NetworkError, ServerError, RateLimitedError) as error:
            wait = (
                error.retry_after
                if isinstance(error, RateLimitedError) and error.retry_after
                else self._failed(work)
            )
            self._release(work, wait, error.code or type(error).__name__)
            raise _Released from error
        except ProductlaneError as error:
            log.warning("thread %s: cannot read its body (%s)", work.thread_id, error.code or error.status)
            current = None  # cannot tell: it is not overwritten
        if current is not None and current in (work.body_sha256, batch.body_sha256):
            return batch
        if current is not None and work.body_sha256 is None and self._filed_body_is(work, current):
            return batch
        if work.body_sha256 is None:
            self._predates_fingerprint(work)
        else:
            log.warning(
                "thread %s: its body %s, so it is not re-rendered; these follow-ups go as a comment",
                work.thread_id,
                "was changed in Productlane since the bot wrote it"
                if current is not None
                else "may have been changed in Productlane (the bot cannot compare it)",
            )
        return self.store.set_batch_route(work, self.owner, batch, COMMENTS, keep_body=True)

    def _filed_body_is(self, work: ThreadWork, current: str) -> bool:
        """A thread followed before the bot kept its body's fingerprint: whether its body is still
        the one the bot filed (composed again from the kept submission). If so, that becomes the
        fingerprint, and the fallback goes on as for any other thread."""
        filed = self._whole_thread.as_filed(work)
        if filed is None or body_fingerprint(filed) != current:
            return False
        self.store.adopt_body_fingerprint(work, current)
        log.info("thread %s: its body is still the one the bot filed; re-rendering it", work.thread_id)
        return True

    def _predates_fingerprint(self, work: ThreadWork) -> None:
        """Said once per thread (at WARNING; INFO after): each of its batches comes here."""
        told = work.thread_id in self._told_predates
        self._told_predates.add(work.thread_id)
        log.log(
            logging.INFO if told else logging.WARNING,
            "thread %s: %s; these follow-ups go as a comment, and if comments are refused too they are "
            "kept for the admins",
            work.thread_id,
            PREDATES_FINGERPRINT,
        )

    # --- composing --------------------------------------------------------------------------------

    def _content(self, work: ThreadWork, batch: Batch) -> tuple[str, list[str]]:
        """The comment (or the whole body) and the keys of replies Slack no longer has."""
        started = min(reply.received_at for reply in batch.replies)
        try:
            if batch.route == PATCH:
                files = slack_files([reply.message for reply in batch.replies])
                ledger = _Ledger(self, work, started, [file.id for file in files])
                body = self._whole_thread.render(work, ledger)
                gone = [reply.key for reply in batch.replies if reply.ts not in body.in_slack]
                return body.text, gone
            files = slack_files([reply.message for reply in batch.replies])
            ledger = _Ledger(self, work, started, [file.id for file in files])
            copies = self._copier.copy_into(ledger, files, channel_id=work.channel_id) if files else {}
        except (CopyLater, TryLater) as later:
            wait = later.wait if isinstance(later, CopyLater) else (later.retry_after or 15.0)
            log.info("follow-ups of thread %s wait %.1f s: %s", work.thread_id, wait, later.reason)
            self._release(work, wait)
            raise _Released from later
        except KeyRefused as refused:
            self._pause_for_key(work, refused.error)
            raise _Released from refused
        except BodyUnavailable as unavailable:
            log.warning("follow-ups of thread %s dropped: %s", work.thread_id, unavailable)
            self.store.drop_batch(work, self.owner, batch, str(unavailable))
            raise _Released from unavailable
        views = [
            ReplyView(
                author=self._slack.author(reply.user_id, reply.message),
                ts=reply.ts,
                permalink=self._slack.permalink(work.channel_id, reply.ts),
                message=reply.message,
                edited=reply.edited,
            )
            for reply in batch.replies
        ]
        return followup_html(views, self._slack.names, copies), []

    # --- the write budget --------------------------------------------------------------------------

    def _wait_for_write(self, work: ThreadWork) -> None:
        """Hold the thread until a write may go: never while new feedback waits for one (the thread
        is given back, and looked at again in a second), and within the shared budget."""
        waited = 0.0
        while True:
            if self.new_feedback.waiting():
                self._release(work, YIELD_SECONDS)
                raise _Released
            wait = self._limits.reserve_write_slot(self._key, rate_per_minute=self._rate, burst=self._burst)
            if wait <= 0:
                return
            waited += wait
            if waited > self.lease_seconds / 2 or self._stopping.is_set():
                self._release(work, wait)
                raise _Released
            if self._stopping.wait(wait):
                self._release(work, 0.0)
                raise _Released
            if not self.store.renew(work, self.owner, self.lease_seconds):
                raise LeaseLost(work.thread_id)

    # --- looking before sending again --------------------------------------------------------------

    def _look_for(self, work: ThreadWork, batch: Batch) -> str | None:
        """The id of the comment an earlier attempt of ``batch`` made, if Productlane has it."""
        marker = batch.marker
        cursor: str | None = None
        try:
            for _ in range(LOOK_PAGES):
                page = self._productlane.list_comments(work.thread_id, cursor=cursor)
                for comment in page.data:
                    if (
                        marker
                        and marker in (comment.content or "")
                        and work.channel_id in (comment.content or "")
                    ):
                        return comment.id
                if page.page is None or not page.page.has_more or not page.page.cursor:
                    return None
                cursor = page.page.cursor
        except (NetworkError, ServerError, RateLimitedError) as error:
            wait = (
                error.retry_after
                if isinstance(error, RateLimitedError) and error.retry_after
                else _backoff(2)
            )
            log.info(
                "follow-ups of thread %s: cannot look for the earlier comment yet (%s)",
                work.thread_id,
                error.code,
            )
            self._release(work, wait)
            raise _Released from error
        except ProductlaneError as error:
            log.warning(
                "follow-ups of thread %s: Productlane would not list the thread's comments (%s), so the "
                "batch whose answer never came is sent again: it may show twice",
                work.thread_id,
                error.code or error.status,
            )
        return None

    # --- the write ---------------------------------------------------------------------------------

    def _write(self, work: ThreadWork, batch: Batch, content: str, gone: list[str]) -> None:
        written: str | None = None
        try:
            if batch.route == COMMENTS:
                comment = self._productlane.create_comment(work.thread_id, CreateComment(content=content))
                found: str | None = comment.id
            else:
                updated = self._productlane.update_thread(work.thread_id, UpdateThread(text=content))
                found = None
                written = body_fingerprint(updated.text)
        except RateLimitedError as error:
            wait = error.retry_after if error.retry_after is not None else 60.0
            self._limits.pause_writes(self._key, self._now() + timedelta(seconds=wait))
            self.store.nothing_sent(work, self.owner, batch)
            self._release(work, wait, "rate_limited")
        except NetworkError as error:
            self.store.nothing_sent(work, self.owner, batch)
            self._release(work, self._failed(work), error.code or type(error).__name__)
        except (OutcomeUnknownError, ServerError) as error:
            # It may be in Productlane: the next attempt looks for it first.
            wait = self._failed(work)
            log.info(
                "follow-ups of thread %s: no answer (%s); looking before sending again", work.thread_id, error
            )
            self._release(work, wait, error.code or type(error).__name__)
        except ProductlaneError as error:
            self._refused(work, batch, error)
        else:
            self._settle(work, batch, found, gone, written)
            if batch.route == COMMENTS:
                self._comments_work(work)

    def _comments_work(self, work: ThreadWork) -> None:
        if work.route is not None and work.route.route == PATCH:
            self.store.set_thread_route(work, COMMENTS, None, None)
            log.warning("Productlane takes the follow-ups of thread %s as comments again", work.thread_id)

    def _settle(
        self,
        work: ThreadWork,
        batch: Batch,
        comment_id: str | None,
        gone: list[str] | tuple[str, ...],
        body_sha256: str | None = None,
    ) -> None:
        next_write = self._now() + timedelta(seconds=self._spacing)
        if self.store.batch_sent(
            work,
            self.owner,
            batch,
            comment_id=comment_id,
            next_write_at=next_write,
            gone_keys=gone,
            body_sha256=body_sha256,
        ):
            self._failures.pop((work.channel_id, work.thread_ts), None)
            how = f"as comment {comment_id}" if comment_id else "in its body"
            log.info(
                "follow-ups of thread %s: %d sent %s", work.thread_id, len(batch.replies) - len(gone), how
            )

    def _refused(self, work: ThreadWork, batch: Batch, error: ProductlaneError) -> None:
        if batch.route == COMMENTS and _refuses_comments(error):
            if isinstance(error, NotFoundError) and self._thread_gone(work):
                self._gone(work, batch)
                return
            if batch.keep_body:
                why = (
                    PREDATES_FINGERPRINT
                    if work.body_sha256 is None
                    else "the thread's body was changed in Productlane"
                )
                refused = f"Productlane refused them as a comment ({error.status})"
                self._keep_refused(work, batch, f"not sent: {why}, and {refused}")
                return
            self._fall_back(work, batch, f"{error.status} {error.code or ''}".strip())
            return
        if isinstance(error, NotFoundError):
            self._gone(work, batch)
            return
        # A 403 naming no scope on a comment says nothing about the key: that batch is refused.
        key_wide = (
            isinstance(error, ScopeError)
            and key_problem(error) is not None
            and (bool(error.required) or batch.route == PATCH)
        )
        if isinstance(error, AuthenticationError) or key_wide:
            self._pause_for_key(work, error)
            self.store.nothing_sent(work, self.owner, batch)
            return
        self._keep_refused(work, batch, f"Productlane refused them ({error.status}): {error.message}")

    def _keep_refused(self, work: ThreadWork, batch: Batch, why: str) -> None:
        """This batch alone is refused: kept with why, shown to the admins; the thread's route and
        every other thread go on as they were."""
        log.warning("follow-ups of thread %s refused: %s", work.thread_id, why)
        self.store.drop_batch(work, self.owner, batch, why, refused=True)

    def _thread_gone(self, work: ThreadWork) -> bool:
        try:
            self._productlane.get_thread(work.thread_id)
        except NotFoundError:
            return True
        except ProductlaneError:
            return False
        return False

    def _gone(self, work: ThreadWork, batch: Batch) -> None:
        log.warning("thread %s no longer exists in Productlane: its follow-ups are dropped", work.thread_id)
        self.store.drop_batch(
            work, self.owner, batch, "the thread no longer exists in Productlane", gone=True
        )

    def _pause_for_key(self, work: ThreadWork, error: ProductlaneError) -> None:
        refused = key_problem(error)
        if refused is not None:
            code, message = refused
            self._pauses.record_key_problem(
                self._key, code, message, probe_at=self._now() + timedelta(seconds=KEY_PROBE_SECONDS)
            )
        self._release(work, KEY_PROBE_SECONDS, "the API key is refused")


def _refuses_comments(error: ProductlaneError) -> bool:
    """Productlane has no comments for this key: no such endpoint (404, 405, 501) or a key without
    comments:write (a 403 naming it). Only these say something about the endpoint or the key; a
    400 or 422 refuses one batch's content and says nothing about the route."""
    if error.status in (404, 405, 501):
        return True
    return isinstance(error, ScopeError) and COMMENT_SCOPE in error.required

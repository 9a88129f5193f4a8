"""Sending the triage fields, as the delivery worker does it.

- The company, issue or project and assignee go with the create (`compose` maps them).
- Stale choices lose nothing: when Productlane refuses an id it no longer knows (400/404 naming the
  field: deleted between choosing and sending), the thread is created without that field and the
  confirmation says which was left out and why (`stale_fields`, `without_fields`, `dropped_note`).
- Tags are taken only by ``PATCH /threads/{id}`` (`TagStep`): right after the thread exists, within
  the shared write budget, exactly once. Progress is kept in the outbox item's result before the
  PATCH goes out (``tags_state: sending``) and after (``done``), so an item taken over after a
  crash knows: nothing sent yet (PATCH), or maybe sent (read the thread; PATCH only if its tags
  are not the ones wanted).
- "Edit details" sends only the fields the person changed (`edited_fields`, `update_fields`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Submission
from bot.productlane import (
    AddCustomerNeeds,
    CreateThread,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    ProductlaneClient,
    ProductlaneError,
    RateLimitedError,
    ServerError,
    Thread,
    UpdateThread,
    ValidationError,
)
from bot.productlane.models import ThreadOrigin

__all__ = [
    "CREATE_FIELDS",
    "LinkStep",
    "StepOutcome",
    "TagStep",
    "applied",
    "dropped_from",
    "dropped_note",
    "edited_fields",
    "names_shown",
    "stale_fields",
    "update_fields",
    "without_fields",
]

log = logging.getLogger(__name__)

# The triage fields of POST /threads, and what a refusal may call each.
CREATE_FIELDS = ("company_id", "issue_id", "project_id", "assignee_id")
_WORDS: dict[str, tuple[str, ...]] = {
    "company_id": ("company",),
    "issue_id": ("issue",),
    "issue_ids": ("issue",),
    "project_id": ("project",),
    "assignee_id": ("assignee", "member"),
    "tag_ids": ("tag",),
}
_WHAT = {
    "company_id": "company",
    "issue_id": "linked issue",
    "project_id": "linked project",
    "assignee_id": "assignee",
}
# "Edit details": the names of the triage parts it may change.
LINK = "link"
EDITABLE = ("company_id", LINK, "tag_ids", "assignee_id")


# --- which field a refusal names ----------------------------------------------------------------


def _paths(details: Any) -> list[str]:
    """The field paths an error envelope's details name: ``[{path}]`` as documented for 400, or a
    ``{field|param|path}`` object, which some 404s carry."""
    items = details if isinstance(details, list) else [details]
    paths: list[str] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for key in ("path", "field", "param"):
            value = item.get(key)
            if isinstance(value, list | tuple):
                value = ".".join(str(part) for part in value)
            if isinstance(value, str) and value:
                paths.append(value)
                break
    return paths


def _head(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def stale_fields(error: ProductlaneError, candidates: Iterable[str]) -> set[str]:
    """Which of ``candidates`` (field names such as ``company_id``) a 400/404 refusal names: by the
    paths in its details, else (a 404 without them) by its message ("Company not found")."""
    if not isinstance(error, ValidationError | NotFoundError):
        return set()
    wanted = set(candidates)
    named = {_head(path) for path in _paths(error.details)} & wanted
    if named or _paths(error.details):
        return named
    text = error.message.lower()
    return {name for name in wanted if any(word in text for word in _WORDS.get(name, ()))}


def stale_tag_ids(error: ProductlaneError, tag_ids: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """The tags a refused ``PATCH tag_ids`` names: by index (``tag_ids.1``), else the ones the
    catalog does not know (``known``), else all of them. Empty when the refusal is not about tags."""
    if not stale_fields(error, ["tag_ids"]):
        return []
    indexes = {
        int(match.group(1))
        for path in _paths(error.details)
        if (match := re.fullmatch(r"tag_ids[.\[](\d+)\]?(?:\..*)?", path))
    }
    named = [tag for position, tag in enumerate(tag_ids) if position in indexes]
    if named:
        return named
    unknown = [tag for tag in tag_ids if not known(tag)]
    return unknown or list(tag_ids)


def without_fields(request: CreateThread, names: Iterable[str]) -> CreateThread:
    dropped = {name: None for name in names if name in CREATE_FIELDS}
    return request.model_copy(update=dropped) if dropped else request


def present(request: CreateThread) -> list[str]:
    return [name for name in CREATE_FIELDS if getattr(request, name)]


def dropped_from(thread: Thread, request: CreateThread) -> list[str]:
    """The fields an earlier attempt must have left out: asked for, and not on the thread."""
    linked = {(need.issue_id, need.project_id) for need in thread.customer_needs}
    has = {
        "company_id": thread.company is not None,
        "assignee_id": thread.assignee is not None,
        "issue_id": any(issue == request.issue_id for issue, _ in linked),
        "project_id": any(project == request.project_id for _, project in linked),
    }
    return [name for name in present(request) if not has[name]]


def names_shown(request: CreateThread) -> bool:
    """Whether a reply about this thread may name internal things: not in a Slack Connect channel,
    where the customer reads it (the rule the contact details and "Linked to" follow)."""
    return request.origin is not ThreadOrigin.slack_connect


def dropped_note(name: str, form: FeedbackForm, named: bool) -> str:
    """What the confirmation says about a field Productlane refused: which, and why; the chosen
    item's name only when ``named`` (see `names_shown`)."""
    what = _WHAT.get(name, name)
    item_id = getattr(form, name, None)
    label = form.triage_names.get(item_id) if isinstance(item_id, str) else None
    if label and named:
        what += f" “{label}”"
    return f"The {what} was left out: Productlane no longer knows it (deleted since it was chosen?)."


def tags_note(tags: Sequence[str], names: Mapping[str, str] | None, reason: str) -> str:
    """``names`` None: a Slack Connect channel, where tag names (internal) are not shown."""
    if names is None:
        what = "One tag was" if len(tags) == 1 else f"{len(tags)} tags were"
    else:
        listed = ", ".join(f"“{names.get(tag, tag)}”" for tag in tags)
        what = f"The tag {listed} was" if len(tags) == 1 else f"The tags {listed} were"
    return f"{what} left out: {reason}."


# --- what the confirmation shows ----------------------------------------------------------------


def applied(submission: Submission, result: Mapping[str, Any], names: Mapping[str, str] = {}) -> Submission:
    """The submission as it landed in Productlane: without the fields that were left out, with the
    tags that were set, and with names for its ids (``names``, from the catalog) where the modal
    gave none."""
    form = submission.form
    update: dict[str, Any] = {
        name: None for name in result.get("triage_dropped") or () if name in CREATE_FIELDS
    }
    if result.get("tags_state") == "done" and isinstance(result.get("tag_ids"), list):
        update["tag_ids"] = tuple(str(tag) for tag in result["tag_ids"])
    missing = {key: value for key, value in names.items() if key not in form.triage_names}
    if missing:
        update["triage_names"] = {**form.triage_names, **missing}
    if not update:
        return submission
    return submission.model_copy(update={"form": form.model_copy(update=update)})


# --- "Edit details" -----------------------------------------------------------------------------


def edited_fields(before: FeedbackForm | None, after: FeedbackForm) -> tuple[str, ...]:
    """The triage parts "Edit details" changed (``company_id``, ``link``, ``tag_ids``, ``assignee_id``)."""
    if before is None:
        return ()
    changed = []
    if before.company_id != after.company_id:
        changed.append("company_id")
    if (before.issue_id, before.project_id) != (after.issue_id, after.project_id):
        changed.append(LINK)
    if set(before.tag_ids) != set(after.tag_ids):
        changed.append("tag_ids")
    if before.assignee_id != after.assignee_id:
        changed.append("assignee_id")
    return tuple(changed)


def update_fields(form: FeedbackForm, edited: Iterable[str]) -> dict[str, Any]:
    """What ``PATCH /threads/{id}`` sends for the edited triage parts. A company or assignee taken
    off is sent as null; a new project as ``project_id``; a new issue goes by customer needs
    (`issue_to_link`); a link taken off is not sent (Productlane documents no way to unlink)."""
    changes: dict[str, Any] = {}
    for name in edited:
        if name in ("company_id", "assignee_id"):
            changes[name] = getattr(form, name)
        elif name == "tag_ids":
            changes["tag_ids"] = list(form.tag_ids)
        elif name == LINK and form.project_id:
            changes["project_id"] = form.project_id
    return changes


def without_stale_changes(
    change: UpdateThread,
    error: ProductlaneError,
    form: FeedbackForm,
    known_tag: Callable[[str], bool] | None = None,
    *,
    named: bool = True,
) -> tuple[UpdateThread, list[str], str] | None:
    """An "Edit details" PATCH without the choices a refusal names (deleted since they were
    chosen), the fields left out and a note; None when the refusal names none of them."""
    sent = change.model_dump(exclude_unset=True)
    choices = [name for name in ("company_id", "assignee_id", "project_id", "tag_ids") if sent.get(name)]
    stale = stale_fields(error, choices)
    if not stale:
        return None
    kept = {name: value for name, value in sent.items() if name not in stale}
    notes = [dropped_note(name, form, named) for name in sorted(stale - {"tag_ids"})]
    if "tag_ids" in stale:
        tags = [str(tag) for tag in sent["tag_ids"]]
        gone = stale_tag_ids(error, tags, known_tag or (lambda tag: True))
        kept["tag_ids"] = [tag for tag in tags if tag not in gone]
        notes.append(
            tags_note(gone, form.triage_names, "not found in Productlane (deleted since it was chosen?)")
        )
    return UpdateThread(**kept), sorted(stale), " ".join(notes)


def link_refused_note(error: ProductlaneError, form: FeedbackForm, *, named: bool = True) -> str:
    """Productlane did not take the link to an issue ("Edit details"): say so, and why."""
    # The customer-needs body names it `issue_ids` (e.g. `issue_ids.0`); a 404 may say "Issue".
    if stale_fields(error, ["issue_id", "issue_ids"]):
        return dropped_note("issue_id", form, named)
    return (
        f"The link to the issue was not made: Productlane refused it ({error.code or error.status}). "
        "Link it in Productlane."
    )


def issue_to_link(edit: Submission) -> str | None:
    """The issue "Edit details" links the thread to (a new link), if any."""
    return edit.form.issue_id if LINK in edit.edited_fields else None


# --- tags, once ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepOutcome:
    """What became of a write made once after the thread exists (the tags, an issue linked by Edit
    details): ``done`` (go on to the confirmation), ``later`` (the item waits ``wait`` seconds, its
    result kept), ``lost`` (the lease is gone: stop), ``refused`` (the key itself: the worker
    pauses), with the item's result as it now is and notes for the confirmation."""

    kind: Literal["done", "later", "lost", "refused"]
    result: dict[str, Any]
    wait: float = 0.0
    reason: str = ""
    error: ProductlaneError | None = None
    notes: list[str] = field(default_factory=list)


class TagStep:
    """``PATCH /threads/{id}`` with the tags, once, after the create."""

    MAX_TRIES = 4

    def __init__(
        self,
        productlane: ProductlaneClient,
        *,
        is_key_problem: Callable[[ProductlaneError], bool],
        known_tag: Callable[[str], bool] = lambda tag: True,
        backoff: Callable[[int], float] = lambda attempts: 5.0,
    ) -> None:
        self._productlane = productlane
        self._is_key_problem = is_key_problem
        self._known_tag = known_tag
        self._backoff = backoff

    def run(
        self,
        thread_id: str,
        wanted: Sequence[str],
        result: dict[str, Any],
        *,
        take_slot: Callable[[], bool],
        save: Callable[[dict[str, Any]], bool],
        names: Mapping[str, str] | None = None,
    ) -> StepOutcome:
        """Set the tags on the thread. ``take_slot``: wait for a write slot (False: the item was
        given back to wait for it); ``save``: keep the result with the item (False: lease lost);
        ``names``: the tags' names for a note (None: say none, a Slack Connect channel)."""
        state = result.get("tags_state")
        if not wanted or state == "done":
            return StepOutcome("done", result)
        tags = [str(tag) for tag in result.get("tag_ids") or wanted]
        if state == "sending" and self._already_set(thread_id, tags):
            log.info("thread %s: its tags were set by an earlier attempt", thread_id)
            return StepOutcome("done", {**result, "tags_state": "done", "tag_ids": tags})
        notes: list[str] = []
        for attempt in range(1, self.MAX_TRIES + 1):
            if not take_slot():
                return StepOutcome("lost", result, notes=notes)
            result = {**result, "tags_state": "sending", "tag_ids": tags}
            if not save(result):
                return StepOutcome("lost", result, notes=notes)
            try:
                self._productlane.update_thread(thread_id, UpdateThread(tag_ids=tags))
            except RateLimitedError as error:
                wait = error.retry_after if error.retry_after is not None else 60.0
                return StepOutcome("later", result, wait, "rate_limited", error, notes)
            except (NetworkError, OutcomeUnknownError, ServerError) as error:
                return StepOutcome(
                    "later", result, self._backoff(attempt), error.code or type(error).__name__
                )
            except ProductlaneError as error:
                if self._is_key_problem(error):
                    return StepOutcome("refused", result, error=error, notes=notes)
                stale = stale_tag_ids(error, tags, self._known_tag)
                if stale:
                    notes.append(
                        tags_note(stale, names, "not found in Productlane (deleted since it was chosen?)")
                    )
                    tags = [tag for tag in tags if tag not in stale]
                    log.info(
                        "thread %s: %d tag(s) Productlane no longer knows left out", thread_id, len(stale)
                    )
                    if tags:
                        continue
                else:
                    reason = (
                        "the thread was gone from Productlane"
                        if isinstance(error, NotFoundError)
                        else f"Productlane refused them ({error.code or error.status})"
                    )
                    notes.append(tags_note(tags, names, reason))
                    log.warning("thread %s: tags refused: %s", thread_id, error)
                    tags = []
                return StepOutcome("done", {**result, "tags_state": "done", "tag_ids": tags}, notes=notes)
            return StepOutcome("done", {**result, "tags_state": "done", "tag_ids": tags}, notes=notes)
        return StepOutcome("done", {**result, "tags_state": "done", "tag_ids": tags}, notes=notes)

    def _already_set(self, thread_id: str, tags: Sequence[str]) -> bool:
        """After a crash mid-PATCH: whether the thread already has exactly these tags."""
        try:
            thread = self._productlane.get_thread(thread_id)
        except ProductlaneError as error:  # e.g. no threads:read: send the PATCH again (same set)
            log.info("thread %s: cannot read its tags (%s); setting them again", thread_id, error.code)
            return False
        return {tag.id for tag in thread.tags} == set(tags)


class LinkStep:
    """ "Edit details" linked an issue: Productlane documents no ``issue_id`` for PATCH, so the link
    goes by ``POST /threads/{id}/customer-needs`` (client-claimed), once — kept in the item's
    result before it goes out (``link_state: sending``) and after (``done``); after a crash in
    between, the thread's customer needs are read before it is sent again (a second POST could
    link the thread twice)."""

    def __init__(
        self,
        productlane: ProductlaneClient,
        *,
        is_key_problem: Callable[[ProductlaneError], bool],
        backoff: Callable[[int], float] = lambda attempts: 5.0,
    ) -> None:
        self._productlane = productlane
        self._is_key_problem = is_key_problem
        self._backoff = backoff

    def run(
        self,
        thread_id: str,
        issue_id: str,
        form: FeedbackForm,
        result: dict[str, Any],
        *,
        take_slot: Callable[[], bool],
        save: Callable[[dict[str, Any]], bool],
        named: bool,
        attempts: int = 1,
    ) -> StepOutcome:
        if result.get("link_state") == "done":
            return StepOutcome("done", result)
        if result.get("link_state") == "sending" and self._is_linked(thread_id, issue_id):
            return StepOutcome("done", {**result, "link_state": "done"})
        if not take_slot():
            return StepOutcome("lost", result)
        sending = {**result, "link_state": "sending"}
        if not save(sending):
            return StepOutcome("lost", result)
        try:
            self._productlane.add_customer_needs(thread_id, AddCustomerNeeds(issue_ids=[issue_id]))
        except RateLimitedError as error:
            wait = error.retry_after if error.retry_after is not None else 60.0
            return StepOutcome("later", sending, wait, "rate_limited", error)
        except (NetworkError, OutcomeUnknownError, ServerError) as error:
            return StepOutcome("later", sending, self._backoff(attempts), error.code or type(error).__name__)
        except ProductlaneError as error:
            if self._is_key_problem(error):
                return StepOutcome("refused", sending, error=error)
            log.warning("thread %s: Productlane refused the link to issue %s: %s", thread_id, issue_id, error)
            done = {**sending, "link_state": "done"}
            done["triage_dropped"] = [*(done.get("triage_dropped") or []), "issue_id"]
            return StepOutcome("done", done, notes=[link_refused_note(error, form, named=named)])
        return StepOutcome("done", {**sending, "link_state": "done"})

    def _is_linked(self, thread_id: str, issue_id: str) -> bool:
        try:
            thread = self._productlane.get_thread(thread_id)
        except ProductlaneError:  # e.g. no threads:read: send it again
            return False
        return any(need.issue_id == issue_id for need in thread.customer_needs)

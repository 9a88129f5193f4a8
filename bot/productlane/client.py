"""HTTP client for the Productlane API v2 (httpx, synchronous, thread-safe).

Retry policy, in one place:

* **Reads** (``GET``) are idempotent and are retried inside the client, up to ``max_get_attempts``
  in all, on 429 (waiting exactly ``Retry-After``; if that exceeds ``max_retry_after`` the
  :class:`RateLimitedError` is raised at once), on 5xx, on an unreadable 5xx page from a proxy,
  and on network errors and timeouts (exponential backoff with jitter).
* **Writes** (``POST``) are sent **at most once per call**; the client never re-sends one. A failure
  is classified for the caller, which owns retries (the delivery layer persists and re-sends):

  - :class:`NetworkError`: the request certainly did not reach Productlane (DNS, refused, connect
    timeout, pool timeout): safe to send again.
  - :class:`RateLimitedError`: 429; Productlane did not create anything. The shared
    :class:`WriteLimiter` is paused for ``retry_after``, then sending again is safe.
  - :class:`OutcomeUnknownError`: sent, but no usable answer (read/write timeout, dropped
    connection, 5xx, unreadable 2xx): the thread may exist. Settle before re-sending.
  - 4xx errors (:class:`ValidationError`, :class:`AuthenticationError`, …): not created; sending the
    same request again will fail the same way.

Every write waits for the :class:`WriteLimiter` first (``acquire()`` blocks), so call writes from a
worker, never from a Slack listener.

This module holds the endpoints; one request's way out and back, where the policy is carried out,
is `bot.productlane.exchange`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import pydantic

from bot.productlane.errors import NotFoundError, OutcomeUnknownError, UnexpectedResponseError
from bot.productlane.exchange import USER_AGENT, ApiExchange, ReadRetries, json_body
from bot.productlane.models import (
    AddCustomerNeeds,
    Comment,
    CommentPage,
    Contact,
    CreateComment,
    CreateThread,
    Issue,
    ListPage,
    Me,
    PainLevel,
    Project,
    Thread,
    ThreadOrigin,
    ThreadPage,
    ThreadStatus,
    UpdateThread,
    UploadedFile,
    read_list_page,
)
from bot.productlane.ratelimit import WriteLimiter
from bot.productlane.uploads import uploaded_url

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_BASE_URL", "USER_AGENT", "ProductlaneClient", "ReadRetries"]

DEFAULT_BASE_URL = "https://productlane.com/api/v2"

_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


class ProductlaneClient:
    """A Productlane API v2 client for one API key.

    ``transport`` replaces httpx's network transport (tests); ``retries`` says how GETs are retried
    (None: the defaults; tests inject its ``sleep`` and ``rng`` to assert the waits).
    ``write_limiter`` should be shared by every client using the same key in this process;
    ``None`` gives this client a private default one.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 10.0,
        write_limiter: WriteLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        retries: ReadRetries | None = None,
    ) -> None:
        retries = retries if retries is not None else ReadRetries()
        if not api_key or not api_key.strip():
            raise ValueError("api_key is empty")
        if retries.max_get_attempts < 1:
            raise ValueError("max_get_attempts must be at least 1")
        self._api = ApiExchange(
            api_key,
            base_url.rstrip("/"),
            timeout=timeout,
            write_limiter=write_limiter if write_limiter is not None else WriteLimiter(),
            transport=transport,
            retries=retries,
        )

    def __repr__(self) -> str:
        return f"ProductlaneClient(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        return self._api.base_url

    @property
    def write_limiter(self) -> WriteLimiter:
        return self._api.write_limiter

    @property
    def max_get_attempts(self) -> int:
        return self._api.max_get_attempts

    # -- lifecycle

    @property
    def _http(self) -> httpx.Client:
        return self._api.http

    @property
    def closed(self) -> bool:
        return self._api.closed

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> ProductlaneClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- endpoints

    def me(self) -> Me:
        """``GET /me``: the key's workspace and scopes (needs no scope; proves the key)."""
        return self._api.parse(Me, self._api.get("me"), "GET", "me")

    def create_thread(self, request: CreateThread) -> Thread:
        """``POST /threads``: create a thread. Waits for the write limiter, sends at most once.

        Raises :class:`NetworkError` / :class:`RateLimitedError` (safe to send again),
        :class:`OutcomeUnknownError` (may have been created) or a 4xx error (not created).
        """
        path = "threads"
        self.write_limiter.acquire()
        response = self._api.post(path, request.to_json())
        try:
            return self._api.parse(Thread, response, "POST", path)
        except UnexpectedResponseError as exc:
            raise OutcomeUnknownError(
                "Productlane accepted the thread but its answer could not be read.",
                reason="unreadable_response",
                status=exc.status,
                request_id=exc.request_id,
                method="POST",
                path=self._api.path(path),
            ) from exc

    def list_threads(
        self,
        *,
        status: ThreadStatus | str | None = None,
        assignee_id: str | None = None,
        contact_id: str | None = None,
        company_id: str | None = None,
        tag_id: str | None = None,
        pain_level: PainLevel | str | None = None,
        origin: ThreadOrigin | str | None = None,
        issue_id: str | None = None,
        project_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        updated_after: datetime | None = None,
        updated_before: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> ThreadPage:
        """``GET /threads``: one page of threads matching the filters (``limit`` ≤ 200)."""
        raw: dict[str, Any] = {
            "status": status,
            "assignee_id": assignee_id,
            "contact_id": contact_id,
            "company_id": company_id,
            "tag_id": tag_id,
            "pain_level": pain_level,
            "origin": origin,
            "issue_id": issue_id,
            "project_id": project_id,
            "created_after": created_after,
            "created_before": created_before,
            "updated_after": updated_after,
            "updated_before": updated_before,
            "limit": limit,
            "cursor": cursor,
        }
        params = {key: _param(value) for key, value in raw.items() if value is not None}
        return self._api.parse(ThreadPage, self._api.get("threads", params), "GET", "threads")

    def iter_threads(self, **filters: Any) -> Iterator[Thread]:
        """Every thread matching ``filters`` (as :meth:`list_threads`), following the cursor."""
        filters.pop("cursor", None)
        cursor: str | None = None
        while True:
            page = self.list_threads(cursor=cursor, **filters)
            yield from page.data
            if not page.page.has_more or not page.page.cursor:
                return
            cursor = page.page.cursor

    def get_thread(self, thread_id: str) -> Thread:
        """``GET /threads/{id}`` (``threads:read``). Raises :class:`NotFoundError` when it is gone."""
        return self._get_one(Thread, "threads", thread_id)

    def get_issue(self, issue_id: str) -> Issue:
        """``GET /issues/{id}`` (``issues:read``; a key without it gets :class:`ScopeError`)."""
        return self._get_one(Issue, "issues", issue_id)

    def get_project(self, project_id: str) -> Project:
        """``GET /projects/{id}`` (``projects:read``; a key without it gets :class:`ScopeError`)."""
        return self._get_one(Project, "projects", project_id)

    def _get_one(self, model: type[_ModelT], collection: str, item_id: str) -> _ModelT:
        if not item_id:
            raise ValueError(f"an id is needed to read one of {collection}")
        path = f"{collection}/{quote(item_id, safe='')}"
        response = self._api.get(path)
        body = json_body(response)
        if isinstance(body, Mapping) and "id" not in body and isinstance(body.get("data"), Mapping):
            body = body["data"]  # tolerate a {"data": {...}} wrapper
        return self._api.validate(model, body, response, "GET", path)

    def list_page(self, collection: str, *, limit: int | None = None, cursor: str | None = None) -> ListPage:
        """One page of ``GET /{collection}`` (``companies``, ``projects``, ``issues``, ``tags``,
        ``members``), as raw items and the next page's cursor. Their answers are not fully
        documented: the page is read in whatever list shape it comes (see `read_list_page`); an
        answer holding no list is an :class:`UnexpectedResponseError`. A key without the read
        scope gets :class:`ScopeError` (403 ``scope_required``)."""
        params = {
            key: str(value) for key, value in (("limit", limit), ("cursor", cursor)) if value is not None
        }
        response = self._api.get(collection, params)
        page = read_list_page(json_body(response))
        if page is None:
            raise UnexpectedResponseError(
                "The answer holds no list of items.",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                method="GET",
                path=self._api.path(collection),
            )
        return page

    def find_contact_by_email(self, email: str) -> Contact | None:
        """``GET /contacts/by-email``: the contact with this email, or ``None`` if there is none."""
        try:
            response = self._api.get("contacts/by-email", {"email": email})
        except NotFoundError:
            return None
        body = json_body(response)
        if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping):
            body = body["data"]  # tolerate a {"data": {...}} wrapper
        return self._api.validate(Contact, body, response, "GET", "contacts/by-email")

    # -- capture: files into Productlane, and changing a thread after it was sent

    def upload_file(self, name: str, content_type: str, data: bytes) -> UploadedFile:
        """``POST /files`` (``files:write``): upload one file as multipart field ``file``. Waits for
        the write limiter (an upload is one of the 60 writes a minute) and sends at most once.

        The answer's URL is read where it plausibly is (see `uploaded_url`); ``url`` is None when
        the answer holds none. Raises as :meth:`create_thread` does; a refused type or size is a
        :class:`ValidationError` (400), or a plain :class:`ProductlaneError` with status 413.
        """
        path = "files"
        self.write_limiter.acquire()
        response = self._api.write("POST", path, files={"file": (name, data, content_type)})
        body = json_body(response)
        file_id = None
        if isinstance(body, Mapping):
            wrapped = body.get("data")
            inner: Mapping[str, Any] = wrapped if isinstance(wrapped, Mapping) else body
            found = inner.get("id")
            file_id = found if isinstance(found, str) else None
        return UploadedFile(url=uploaded_url(body), id=file_id)

    def update_thread(self, thread_id: str, request: UpdateThread) -> Thread:
        """``PATCH /threads/{id}`` (``threads:write``): change what ``request`` sets. Waits for the
        write limiter and sends once; the same change sent again leaves the same thread."""
        if not thread_id:
            raise ValueError("a thread id is needed to update a thread")
        path = f"threads/{quote(thread_id, safe='')}"
        self.write_limiter.acquire()
        response = self._api.write("PATCH", path, json=request.to_json())
        try:
            return self._api.parse(Thread, response, "PATCH", path)
        except UnexpectedResponseError as exc:
            raise OutcomeUnknownError(
                "Productlane accepted the change but its answer could not be read.",
                reason="unreadable_response",
                status=exc.status,
                request_id=exc.request_id,
                method="PATCH",
                path=self._api.path(path),
            ) from exc

    def add_customer_needs(self, thread_id: str, request: AddCustomerNeeds) -> None:
        """``POST /threads/{id}/customer-needs`` (client-claimed): link the thread to issues or
        projects. Waits for the write limiter and sends once; the answer's body is not needed."""
        if not thread_id:
            raise ValueError("a thread id is needed to link a thread")
        path = f"threads/{quote(thread_id, safe='')}/customer-needs"
        self.write_limiter.acquire()
        self._api.write("POST", path, json=request.to_json())

    # -- the conversation: follow-ups from Slack as comments

    def create_comment(self, thread_id: str, request: CreateComment) -> Comment:
        """``POST /threads/{id}/comments`` (``comments:write``; client-claimed). Waits for the write
        limiter and sends once. Raises as :meth:`create_thread` does: after
        :class:`OutcomeUnknownError` the comment may exist (:meth:`list_comments` tells)."""
        if not thread_id:
            raise ValueError("a thread id is needed to comment on a thread")
        path = f"threads/{quote(thread_id, safe='')}/comments"
        self.write_limiter.acquire()
        response = self._api.write("POST", path, json=request.to_json())
        body = json_body(response)
        if isinstance(body, Mapping) and "id" not in body and isinstance(body.get("data"), Mapping):
            body = body["data"]  # tolerate a {"data": {...}} wrapper
        try:
            return self._api.validate(Comment, body, response, "POST", path)
        except UnexpectedResponseError as exc:
            raise OutcomeUnknownError(
                "Productlane accepted the comment but its answer could not be read.",
                reason="unreadable_response",
                status=exc.status,
                request_id=exc.request_id,
                method="POST",
                path=self._api.path(path),
            ) from exc

    def list_comments(self, thread_id: str, *, cursor: str | None = None, limit: int = 100) -> CommentPage:
        """``GET /threads/{id}/comments``: one page of the thread's comments (UNSEEN endpoint; a
        Productlane without it answers 404 or 405)."""
        path = f"threads/{quote(thread_id, safe='')}/comments"
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        response = self._api.get(path, params)
        body = json_body(response)
        if isinstance(body, list):
            body = {"data": body}
        return self._api.validate(CommentPage, body, response, "GET", path)


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive = UTC
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

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
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import pydantic

from bot import __version__, metrics
from bot.productlane.errors import (
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    ProductlaneError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
    error_from_response,
)
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

__all__ = ["DEFAULT_BASE_URL", "USER_AGENT", "ProductlaneClient"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://productlane.com/api/v2"
USER_AGENT = f"productlane-slack/{__version__}"

_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


class ProductlaneClient:
    """A Productlane API v2 client for one API key.

    ``transport`` replaces httpx's network transport (tests); ``sleep`` and ``rng`` drive the GET
    backoff (tests inject them to assert the waits). ``write_limiter`` should be shared by every
    client using the same key in this process; ``None`` gives this client a private default one.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 10.0,
        write_limiter: WriteLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        max_get_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("api_key is empty")
        if max_get_attempts < 1:
            raise ValueError("max_get_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.write_limiter = write_limiter if write_limiter is not None else WriteLimiter()
        self.max_get_attempts = max_get_attempts
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._rng = rng

        def make_http() -> httpx.Client:
            # httpx is imported here, on the first request, not at start-up: ~1 MB that a bot which
            # has sent nothing yet does not need. (Python caches imports: later ones are a lookup.)
            import httpx

            return httpx.Client(
                base_url=self.base_url + "/",
                headers={
                    "Authorization": f"Bearer {api_key.strip()}",
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                },
                timeout=httpx.Timeout(timeout),
                transport=transport,
                follow_redirects=False,
                # The CA bundle costs ~26 ms of CPU and ~2 MB to load, and only https needs it (no
                # redirect is followed): a plain-http base URL (a local fake, a proxy on loopback)
                # goes without.
                verify=self.base_url.startswith("https://"),
            )

        self._make_http = make_http
        # The HTTP client (its TLS context holds the CA bundle, ~2 MB) is made on the first
        # request: a bot that has sent nothing yet stays small.
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"ProductlaneClient(base_url={self.base_url!r})"

    # -- lifecycle

    @property
    def _http(self) -> httpx.Client:
        client = self._http_client
        if client is None:
            with self._http_lock:
                if self._closed:
                    raise RuntimeError("the Productlane client is closed")
                if self._http_client is None:
                    self._http_client = self._make_http()
                client = self._http_client
        return client

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._http_lock:
            self._closed = True
            if self._http_client is not None:
                self._http_client.close()

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
        return self._parse(Me, self._get("me"), "GET", "me")

    def create_thread(self, request: CreateThread) -> Thread:
        """``POST /threads``: create a thread. Waits for the write limiter, sends at most once.

        Raises :class:`NetworkError` / :class:`RateLimitedError` (safe to send again),
        :class:`OutcomeUnknownError` (may have been created) or a 4xx error (not created).
        """
        path = "threads"
        self.write_limiter.acquire()
        response = self._post(path, request.to_json())
        try:
            return self._parse(Thread, response, "POST", path)
        except UnexpectedResponseError as exc:
            raise OutcomeUnknownError(
                "Productlane accepted the thread but its answer could not be read.",
                reason="unreadable_response",
                status=exc.status,
                request_id=exc.request_id,
                method="POST",
                path=self._path(path),
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
        return self._parse(ThreadPage, self._get("threads", params), "GET", "threads")

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
        response = self._get(path)
        body = _json(response)
        if isinstance(body, Mapping) and "id" not in body and isinstance(body.get("data"), Mapping):
            body = body["data"]  # tolerate a {"data": {...}} wrapper
        return self._validate(model, body, response, "GET", path)

    def list_page(self, collection: str, *, limit: int | None = None, cursor: str | None = None) -> ListPage:
        """One page of ``GET /{collection}`` (``companies``, ``projects``, ``issues``, ``tags``,
        ``members``), as raw items and the next page's cursor. Their answers are not fully
        documented: the page is read in whatever list shape it comes (see `read_list_page`); an
        answer holding no list is an :class:`UnexpectedResponseError`. A key without the read
        scope gets :class:`ScopeError` (403 ``scope_required``)."""
        params = {
            key: str(value) for key, value in (("limit", limit), ("cursor", cursor)) if value is not None
        }
        response = self._get(collection, params)
        page = read_list_page(_json(response))
        if page is None:
            raise UnexpectedResponseError(
                "The answer holds no list of items.",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                method="GET",
                path=self._path(collection),
            )
        return page

    def find_contact_by_email(self, email: str) -> Contact | None:
        """``GET /contacts/by-email``: the contact with this email, or ``None`` if there is none."""
        try:
            response = self._get("contacts/by-email", {"email": email})
        except NotFoundError:
            return None
        body = _json(response)
        if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping):
            body = body["data"]  # tolerate a {"data": {...}} wrapper
        return self._validate(Contact, body, response, "GET", "contacts/by-email")

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
        response = self._write("POST", path, files={"file": (name, data, content_type)})
        body = _json(response)
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
        response = self._write("PATCH", path, json=request.to_json())
        try:
            return self._parse(Thread, response, "PATCH", path)
        except UnexpectedResponseError as exc:
            raise OutcomeUnknownError(
                "Productlane accepted the change but its answer could not be read.",
                reason="unreadable_response",
                status=exc.status,
                request_id=exc.request_id,
                method="PATCH",
                path=self._path(path),
            ) from exc

    def add_customer_needs(self, thread_id: str, request: AddCustomerNeeds) -> None:
        """``POST /threads/{id}/customer-needs`` (client-claimed): link the thread to issues or
        projects. Waits for the write limiter and sends once; the answer's body is not needed."""
        if not thread_id:
            raise ValueError("a thread id is needed to link a thread")
        path = f"threads/{quote(thread_id, safe='')}/customer-needs"
        self.write_limiter.acquire()
        self._write("POST", path, json=request.to_json())

    # -- the conversation: follow-ups from Slack as comments

    def create_comment(self, thread_id: str, request: CreateComment) -> Comment:
        """``POST /threads/{id}/comments`` (``comments:write``; client-claimed). Waits for the write
        limiter and sends once. Raises as :meth:`create_thread` does: after
        :class:`OutcomeUnknownError` the comment may exist (:meth:`list_comments` tells)."""
        if not thread_id:
            raise ValueError("a thread id is needed to comment on a thread")
        path = f"threads/{quote(thread_id, safe='')}/comments"
        self.write_limiter.acquire()
        response = self._write("POST", path, json=request.to_json())
        body = _json(response)
        if isinstance(body, Mapping) and "id" not in body and isinstance(body.get("data"), Mapping):
            body = body["data"]  # tolerate a {"data": {...}} wrapper
        try:
            return self._validate(Comment, body, response, "POST", path)
        except UnexpectedResponseError as exc:
            raise OutcomeUnknownError(
                "Productlane accepted the comment but its answer could not be read.",
                reason="unreadable_response",
                status=exc.status,
                request_id=exc.request_id,
                method="POST",
                path=self._path(path),
            ) from exc

    def list_comments(self, thread_id: str, *, cursor: str | None = None, limit: int = 100) -> CommentPage:
        """``GET /threads/{id}/comments``: one page of the thread's comments (UNSEEN endpoint; a
        Productlane without it answers 404 or 405)."""
        path = f"threads/{quote(thread_id, safe='')}/comments"
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        response = self._get(path, params)
        body = _json(response)
        if isinstance(body, list):
            body = {"data": body}
        return self._validate(CommentPage, body, response, "GET", path)

    # -- plumbing

    def _path(self, path: str) -> str:
        import httpx

        return httpx.URL(self.base_url + "/" + path).path

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        attempt = 1
        while True:
            try:
                return self._send("GET", path, params=params)
            except ProductlaneError as exc:
                wait = self._get_retry_wait(exc, attempt)
                if wait is None:
                    raise
                logger.info(
                    "productlane GET %s: retrying in %.2fs (attempt %d/%d) after %s",
                    self._path(path),
                    wait,
                    attempt + 1,
                    self.max_get_attempts,
                    type(exc).__name__,
                )
                self._sleep(wait)
                attempt += 1

    def _get_retry_wait(self, exc: ProductlaneError, attempt: int) -> float | None:
        """Seconds to wait before the next GET attempt, or ``None`` to give up."""
        if attempt >= self.max_get_attempts:
            return None
        if isinstance(exc, RateLimitedError):
            if exc.retry_after is not None:
                return exc.retry_after if exc.retry_after <= self._max_retry_after else None
            return self._backoff(attempt)
        if isinstance(exc, ServerError | NetworkError) or (
            isinstance(exc, UnexpectedResponseError) and exc.retryable
        ):
            return self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: a value in [d/2, d], d = base·2^(attempt-1) ≤ max."""
        ceiling = min(self._backoff_max, self._backoff_base * (2.0 ** (attempt - 1)))
        return float(ceiling * (0.5 + 0.5 * self._rng()))

    def _post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        return self._write("POST", path, json=body)

    def _write(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        try:
            return self._send(method, path, json=json, files=files)
        except RateLimitedError as exc:
            if exc.retry_after is not None:
                self.write_limiter.pause(exc.retry_after)
            raise
        except (ServerError, UnexpectedResponseError) as exc:
            if isinstance(exc, UnexpectedResponseError) and not exc.retryable:
                raise  # a 4xx page from a proxy: refused, not created
            raise OutcomeUnknownError(
                "Productlane answered the write with a server error; it may have been applied.",
                reason="server_error",
                status=exc.status,
                code=exc.code,
                details=exc.details,
                request_id=exc.request_id,
                method=method,
                path=exc.path,
            ) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """One HTTP exchange. Returns a 2xx response or raises a :class:`ProductlaneError`.

        A read (GET) that times out or loses its connection raises :class:`NetworkError` (nothing
        can have changed); a write in that situation raises :class:`OutcomeUnknownError`.
        """
        import httpx

        # Nothing left this machine: safe to send again, even a write.
        not_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
        # Misconfiguration (bad URL scheme, invalid header): nothing was sent; retrying will not help.
        misconfigured = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)
        idempotent = method == "GET"
        url_path = self._path(path)
        started = time.monotonic()
        try:
            response = self._http.request(method, path, params=params, json=json, files=files)
        except not_sent as exc:
            self._log_failure(method, url_path, started, exc)
            raise NetworkError(
                f"Could not connect to Productlane: {type(exc).__name__}.",
                method=method,
                path=url_path,
            ) from exc
        except misconfigured as exc:
            self._log_failure(method, url_path, started, exc)
            raise ProductlaneError(
                f"Request not sent, check the base URL: {type(exc).__name__}: {exc}",
                method=method,
                path=url_path,
            ) from exc
        except httpx.TimeoutException as exc:  # read/write timeout: the request went out
            self._log_failure(method, url_path, started, exc)
            if idempotent:
                raise NetworkError(
                    f"No answer from Productlane in time ({type(exc).__name__}).",
                    method=method,
                    path=url_path,
                ) from exc
            raise OutcomeUnknownError(
                f"No answer from Productlane in time ({type(exc).__name__}).",
                reason="timeout",
                method=method,
                path=url_path,
            ) from exc
        except httpx.TransportError as exc:  # dropped connection, read/write error
            self._log_failure(method, url_path, started, exc)
            if idempotent:
                raise NetworkError(
                    f"Connection to Productlane lost ({type(exc).__name__}).",
                    method=method,
                    path=url_path,
                ) from exc
            raise OutcomeUnknownError(
                f"Connection to Productlane lost before an answer ({type(exc).__name__}).",
                reason="connection_lost",
                method=method,
                path=url_path,
            ) from exc

        elapsed = time.monotonic() - started
        metrics.productlane_answered(method, response.status_code)
        request_id = response.headers.get("x-request-id")
        level = logging.INFO if response.is_success else logging.WARNING
        logger.log(
            level,
            "productlane %s %s -> %d request_id=%s elapsed=%.3fs",
            method,
            url_path,
            response.status_code,
            request_id,
            elapsed,
            extra={
                "productlane_method": method,
                "productlane_path": url_path,
                "productlane_status": response.status_code,
                "productlane_request_id": request_id,
                "productlane_elapsed": elapsed,
            },
        )
        if response.is_success:
            return response
        raise error_from_response(response, method=method, path=url_path)

    @staticmethod
    def _log_failure(method: str, url_path: str, started: float, exc: Exception) -> None:
        metrics.productlane_no_answer(method, timed_out="Timeout" in type(exc).__name__)
        logger.warning(
            "productlane %s %s -> %s elapsed=%.3fs",
            method,
            url_path,
            type(exc).__name__,
            time.monotonic() - started,
        )

    def _parse(self, model: type[_ModelT], response: httpx.Response, method: str, path: str) -> _ModelT:
        return self._validate(model, _json(response), response, method, path)

    def _validate(
        self, model: type[_ModelT], body: Any, response: httpx.Response, method: str, path: str
    ) -> _ModelT:
        if body is _NO_JSON:
            raise UnexpectedResponseError(
                f"Success answer is not JSON ({response.headers.get('content-type', '?')}).",
                body_excerpt=response.text[:200],
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                method=method,
                path=self._path(path),
            )
        try:
            return model.model_validate(body)
        except pydantic.ValidationError as exc:
            raise UnexpectedResponseError(
                f"Success answer does not match {model.__name__}: "
                f"{exc.error_count()} problem(s), first at "
                f"{'.'.join(str(p) for p in exc.errors()[0]['loc']) or '(root)'}.",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                method=method,
                path=self._path(path),
            ) from exc


_NO_JSON = object()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _NO_JSON


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive = UTC
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""One HTTP exchange with the Productlane API and the retry policy of `ProductlaneClient` (see its
module docstring): reads retried here, writes sent at most once and their failures classified,
every answer logged and counted, and a success answer checked against its model.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic

from bot import __version__, metrics
from bot.productlane.errors import (
    NetworkError,
    OutcomeUnknownError,
    ProductlaneError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
    error_from_response,
)
from bot.productlane.ratelimit import WriteLimiter

if TYPE_CHECKING:
    import httpx

__all__ = ["USER_AGENT", "ApiExchange", "ReadRetries", "json_body"]

# The client's name: operators' log filters select its entries by it.
logger = logging.getLogger("bot.productlane.client")

USER_AGENT = f"productlane-slack/{__version__}"

_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class ReadRetries:
    """How reads (GETs) are retried: how many attempts in all, the backoff between them (with
    jitter from ``rng``, waited out by ``sleep``: tests inject both to assert the waits), and the
    longest Retry-After a 429 may ask before it is raised at once instead. Writes are never retried
    by the client."""

    max_get_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random


class ApiExchange:
    """Requests to one Productlane API with one key: the HTTP client (made on the first request),
    GETs retried with backoff, writes sent once. Thread-safe."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeout: float,
        write_limiter: WriteLimiter,
        transport: httpx.BaseTransport | None,
        retries: ReadRetries,
    ) -> None:
        self.base_url = base_url
        self.write_limiter = write_limiter
        self.max_get_attempts = retries.max_get_attempts
        self._sleep = retries.sleep
        self._backoff_base = retries.backoff_base
        self._backoff_max = retries.backoff_max
        self._max_retry_after = retries.max_retry_after
        self._rng = retries.rng

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

    @property
    def http(self) -> httpx.Client:
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

    def path(self, path: str) -> str:
        import httpx

        return httpx.URL(self.base_url + "/" + path).path

    def get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
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
                    self.path(path),
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

    def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        return self.write("POST", path, json=body)

    def write(
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
        url_path = self.path(path)
        started = time.monotonic()
        try:
            response = self.http.request(method, path, params=params, json=json, files=files)
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

    def parse(self, model: type[_ModelT], response: httpx.Response, method: str, path: str) -> _ModelT:
        return self.validate(model, json_body(response), response, method, path)

    def validate(
        self, model: type[_ModelT], body: Any, response: httpx.Response, method: str, path: str
    ) -> _ModelT:
        if body is _NO_JSON:
            raise UnexpectedResponseError(
                f"Success answer is not JSON ({response.headers.get('content-type', '?')}).",
                body_excerpt=response.text[:200],
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                method=method,
                path=self.path(path),
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
                path=self.path(path),
            ) from exc


_NO_JSON = object()


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _NO_JSON

"""What can go wrong when talking to Productlane, as exceptions that say what failed.

Every error Productlane answers with has the envelope
``{"error": {"code", "message", "details"?, "request_id"}}`` and an ``X-Request-Id`` header;
:func:`error_from_response` turns such an answer into the matching class below.

Hierarchy::

    ProductlaneError
    ├── AuthenticationError          401 unauthenticated
    │   └── UnsupportedKeyVersionError   410 unsupported_key_version (a v1 key on v2)
    ├── ScopeError                   403 scope_required / forbidden
    ├── ValidationError              400 validation_failed, 422 unprocessable
    ├── NotFoundError                404
    ├── ConflictError                409
    ├── RateLimitedError             429 (retry_after from Retry-After)
    ├── ServerError                  5xx on a request that is safe to repeat
    ├── NetworkError                 no answer, and nothing can have changed
    ├── OutcomeUnknownError          a write that may or may not have taken effect
    └── UnexpectedResponseError      not the envelope (e.g. HTML), or a body that does not parse

``str(exc)`` is for logs (status, code, Productlane's message, request id); ``exc.user_message`` is
for the person who acted: what happened and what to do next. Neither ever contains an API key.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "NetworkError",
    "NotFoundError",
    "OutcomeUnknownError",
    "ProductlaneError",
    "RateLimitedError",
    "ScopeError",
    "ServerError",
    "UnexpectedResponseError",
    "UnsupportedKeyVersionError",
    "ValidationError",
    "error_from_response",
    "is_retryable",
    "parse_retry_after",
]

# Anything that looks like a credential is scrubbed from every message we keep.
_SECRET_PATTERNS = (
    re.compile(r"\bpl_v\d+_[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]+"),
)


def _redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class ProductlaneError(Exception):
    """Base class: a request to Productlane did not give the answer we wanted.

    Attributes: ``status`` (HTTP status, ``None`` when there was no answer), ``code`` (Productlane's
    error code), ``message`` (Productlane's message or ours), ``details`` (the envelope's details),
    ``request_id`` (from the body or the ``X-Request-Id`` header), ``method`` and ``path``.
    """

    #: Whether sending the same request again is safe and may succeed (see :func:`is_retryable`).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = _redact(message)
        self.status = status
        self.code = code
        self.details = details
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = []
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )

    # -- for people

    def _reference(self) -> str:
        return f" (Productlane request id: {self.request_id})" if self.request_id else ""

    @property
    def user_message(self) -> str:
        """A sentence or two fit to show in Slack: what happened, what to do next."""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return (
            f"Productlane did not accept the request{status}. "
            f"Try again; if it keeps failing, tell the bot's admin{self._reference()}."
        )


class AuthenticationError(ProductlaneError):
    """401: the API key is missing, malformed or revoked."""

    @property
    def user_message(self) -> str:
        return (
            "Productlane rejected the bot's API key (missing, invalid or revoked). "
            "Ask a Productlane admin to create a new v2 API key and put it in the bot's "
            f"configuration{self._reference()}."
        )


class UnsupportedKeyVersionError(AuthenticationError):
    """410 ``unsupported_key_version``: a v1 key was used on API v2."""

    @property
    def user_message(self) -> str:
        return (
            "The bot is configured with a Productlane v1 API key, which API v2 no longer accepts. "
            "Create a v2 key in Productlane (it starts with pl_v2_) and put it in the bot's "
            f"configuration{self._reference()}."
        )


class ScopeError(ProductlaneError):
    """403: the key lacks a scope (``scope_required``) or may not do this (``forbidden``)."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        details = self.details if isinstance(self.details, Mapping) else {}
        self.required: list[str] = _str_list(details.get("required"))
        self.granted: list[str] = _str_list(details.get("granted"))

    @property
    def user_message(self) -> str:
        if self.required:
            needed = ", ".join(self.required)
            has = ", ".join(self.granted) if self.granted else "none"
            return (
                f"The bot's Productlane API key lacks the {needed} permission (it has: {has}). "
                f"Ask a Productlane admin to create a key with {needed} and put it in the bot's "
                f"configuration{self._reference()}."
            )
        return (
            "Productlane does not allow the bot's API key to do this. "
            f"Ask a Productlane admin to check the key's permissions{self._reference()}."
        )


class ValidationError(ProductlaneError):
    """400 ``validation_failed`` / 422 ``unprocessable``: Productlane refused the request's content.

    ``field_errors`` lists ``(path, message)`` pairs from the envelope's details.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field_errors: list[tuple[str, str]] = _field_errors(self.details)

    @property
    def user_message(self) -> str:
        if self.field_errors:
            listed = "; ".join(
                f"{path}: {message}" if path else message for path, message in self.field_errors
            )
            return (
                f"Productlane did not accept the feedback — {listed}. "
                f"Correct it and send it again{self._reference()}."
            )
        return (
            f"Productlane did not accept the feedback: {self.message.rstrip('.')}. "
            f"Correct it and send it again{self._reference()}."
        )


class NotFoundError(ProductlaneError):
    """404: something the request names does not exist (or the key cannot see it)."""

    @property
    def user_message(self) -> str:
        return (
            "Productlane could not find something the request refers to (for example an "
            "assignee, company, project or issue). Check the choices and try again"
            f"{self._reference()}."
        )


class ConflictError(ProductlaneError):
    """409: the request conflicts with the current state in Productlane."""

    @property
    def user_message(self) -> str:
        return (
            "Productlane reported a conflict with existing data. Check Productlane, then try "
            f"again{self._reference()}."
        )


class RateLimitedError(ProductlaneError):
    """429: too many requests for this key. ``retry_after`` is from ``Retry-After`` (seconds).

    Productlane did not act on the request, so sending it again after ``retry_after`` is safe.
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        wait = (
            f"in about {max(1, round(self.retry_after))} seconds"
            if self.retry_after is not None
            else "in a minute"
        )
        return (
            "Productlane is receiving too many requests from the bot right now. "
            f"Try again {wait}{self._reference()}."
        )


class ServerError(ProductlaneError):
    """5xx on a request that is safe to repeat (a read). A write that got 5xx is
    :class:`OutcomeUnknownError` instead."""

    retryable = True

    @property
    def user_message(self) -> str:
        return (
            f"Productlane had a problem on its side (HTTP {self.status}). "
            f"Try again in a few minutes{self._reference()}."
        )


class NetworkError(ProductlaneError):
    """No answer from Productlane, and nothing can have changed there: the connection was never
    made (DNS, refused, connect timeout; any request), or a read (GET) timed out or lost its
    connection. Safe to send again, even for a write. (A write that timed out after being sent is
    :class:`OutcomeUnknownError`.)
    """

    retryable = True

    @property
    def user_message(self) -> str:
        return (
            "The bot could not get through to Productlane, so nothing was saved. Try again in "
            "a few minutes; if it keeps happening, the bot's admin should check its network."
        )


class OutcomeUnknownError(ProductlaneError):
    """A write was sent but no usable answer came back: it may or may not have taken effect.

    Raised when a POST timed out after being sent, lost its connection, got a 5xx, or got a 2xx
    whose body could not be read. Productlane has no idempotency key, so sending it again blindly
    may create a duplicate; the caller must settle the outcome (e.g. look the thread up with
    ``GET /threads``).
    ``reason`` is one of ``"timeout"``, ``"connection_lost"``, ``"server_error"``,
    ``"unreadable_response"``; ``__cause__`` holds the underlying error.
    """

    retryable = False

    def __init__(self, message: str, *, reason: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason

    @property
    def user_message(self) -> str:
        return (
            "Productlane did not confirm whether the feedback was saved — it may already be "
            "there. Check Productlane before sending it again"
            f"{self._reference()}."
        )


class UnexpectedResponseError(ProductlaneError):
    """An answer that is not Productlane's envelope (e.g. an HTML page from a proxy), or a success
    body that does not parse. Retryable only when it came with a 5xx status (a gateway hiccup)."""

    def __init__(self, message: str, *, body_excerpt: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.body_excerpt = _redact(body_excerpt)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status is not None and self.status >= 500

    @property
    def user_message(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return (
            f"Productlane sent an answer the bot could not read{status}. "
            "Try again in a few minutes; if it keeps happening, tell the bot's admin."
        )


def is_retryable(exc: BaseException) -> bool:
    """Whether sending the same request again is both safe and might succeed.

    True for :class:`RateLimitedError` (after ``retry_after``), :class:`NetworkError` (nothing was
    sent), :class:`ServerError` (raised only for reads) and an :class:`UnexpectedResponseError` with
    a 5xx status. False for :class:`OutcomeUnknownError` (settle first), for client errors
    (400/401/403/404/409/410/422) and for anything that is not a :class:`ProductlaneError`.
    """
    return isinstance(exc, ProductlaneError) and bool(exc.retryable)


# --------------------------------------------------------------------------- parsing answers


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (``"30"``, ``"1.5"``) or an
    HTTP date. ``None`` when absent or unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _field_errors(details: Any) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not isinstance(details, list):
        return errors
    for item in details:
        if not isinstance(item, Mapping):
            continue
        path = item.get("path", "")
        if isinstance(path, list | tuple):
            path = ".".join(str(part) for part in path)
        message = item.get("message", "")
        errors.append((_redact(str(path)), _redact(str(message))))
    return errors


def _envelope(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if not isinstance(error, Mapping) or not isinstance(error.get("code"), str):
        return None
    return error


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except Exception:  # pragma: no cover - undecodable bytes
        return ""
    return " ".join(text.split())[:limit]


_BY_STATUS: dict[int, type[ProductlaneError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: ScopeError,
    404: NotFoundError,
    409: ConflictError,
    410: UnsupportedKeyVersionError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_from_response(
    response: httpx.Response, *, method: str | None = None, path: str | None = None
) -> ProductlaneError:
    """The exception that describes an unsuccessful answer (status >= 400).

    An answer without Productlane's envelope becomes :class:`UnexpectedResponseError`, except 429
    (always :class:`RateLimitedError`, so the wait is honoured whoever sent it).
    """
    status = response.status_code
    header_request_id = response.headers.get("x-request-id")
    if method is None or path is None:
        try:
            request = response.request
        except RuntimeError:
            request = None
        if request is not None:
            method = method or request.method
            path = path or request.url.path
    common: dict[str, Any] = {"status": status, "method": method, "path": path}
    retry_after = parse_retry_after(response.headers.get("retry-after"))

    error = _envelope(response)
    if error is None:
        if status == 429:
            return RateLimitedError(
                "Rate limited (answer without Productlane's error envelope).",
                retry_after=retry_after,
                request_id=header_request_id,
                **common,
            )
        return UnexpectedResponseError(
            f"Answer without Productlane's error envelope "
            f"({response.headers.get('content-type', 'no content type')}).",
            body_excerpt=_excerpt(response),
            request_id=header_request_id,
            **common,
        )

    code = str(error["code"])
    message = str(error.get("message") or code)
    request_id = error.get("request_id")
    common.update(
        code=code,
        details=error.get("details"),
        request_id=str(request_id) if request_id else header_request_id,
    )

    cls: type[ProductlaneError]
    if code == "unsupported_key_version" and status in (401, 410):
        cls = UnsupportedKeyVersionError
    elif status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, ProductlaneError)
        if cls is UnsupportedKeyVersionError and code != "unsupported_key_version":
            cls = ProductlaneError
    if cls is RateLimitedError:
        return RateLimitedError(message, retry_after=retry_after, **common)
    return cls(message, **common)

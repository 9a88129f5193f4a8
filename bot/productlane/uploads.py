"""What Productlane takes as a file upload (``POST /files``), and reading where it put the copy.

From Productlane's API notes: multipart field ``file``, scope ``files:write``, at most 10 MB a request,
30 uploads a minute per key and 500 a day per workspace (each also one of the 60 writes a minute),
and only these types: png, jpeg, gif, webp, pdf, Office documents (new and old), csv and plain text.
SVG, HTML and ``application/octet-stream`` are refused (400 ``validation_failed``).

The answer's field names were not visible in the documentation we could read, so `uploaded_url`
accepts the copy's URL where it plausibly is and says None otherwise: a file without a link back is
treated as not uploaded, never as a failed submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MAX_UPLOAD_BYTES",
    "UPLOADS_PER_DAY",
    "UPLOADS_PER_MINUTE",
    "UPLOAD_CONTENT_TYPES",
    "content_type_of",
    "megabytes",
    "upload_refusal",
    "uploaded_url",
]

MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024
UPLOADS_PER_MINUTE: Final = 30
UPLOADS_PER_DAY: Final = 500

_WORD: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_EXCEL: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_POWERPOINT: Final = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

UPLOAD_CONTENT_TYPES: Final = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        _WORD,
        _EXCEL,
        _POWERPOINT,
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "text/csv",
        "text/plain",
    }
)

# Slack's `filetype` for files whose `mimetype` is missing or generic (Slack sometimes says
# application/octet-stream for an Office file, text/plain for a csv).
_BY_FILETYPE: Final = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "docx": _WORD,
    "xlsx": _EXCEL,
    "pptx": _POWERPOINT,
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "csv": "text/csv",
    "text": "text/plain",
}
_ALIASES: Final = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/csv": "text/csv"}
_GENERIC: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Keys an upload answer may carry the copy's URL under, most specific first.
_URL_KEYS: Final = ("url", "cdn_url", "file_url", "public_url", "download_url", "src", "href", "location")
_WRAPPERS: Final = ("data", "file", "upload", "result")


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def content_type_of(mimetype: str, filetype: str = "") -> str:
    """The content type to upload a Slack file as: its mimetype, normalised; Slack's filetype where
    the mimetype is missing or generic (an Office file may come as octet-stream)."""
    base = mimetype.split(";", 1)[0].strip().lower()
    base = _ALIASES.get(base, base)
    by_filetype = _BY_FILETYPE.get(filetype.strip().lower())
    if base in _GENERIC or (base == "text/plain" and by_filetype == "text/csv"):
        return by_filetype or base
    return base


def upload_refusal(content_type: str, size: int | None, kind: str = "") -> str | None:
    """Why Productlane would refuse this file, in words for the thread's reader; None when it may
    be uploaded. Checked before anything is downloaded."""
    too_big = size is not None and size > MAX_UPLOAD_BYTES
    if content_type not in UPLOAD_CONTENT_TYPES:
        label = kind.strip() or content_type or "this kind of"
        refused = f"Productlane does not accept {label} files"
        if too_big and size is not None:
            refused += f", and {megabytes(size)} is over its {megabytes(MAX_UPLOAD_BYTES)} limit"
        return refused
    if too_big and size is not None:
        return f"{megabytes(size)}, over Productlane's {megabytes(MAX_UPLOAD_BYTES)} limit"
    return None


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text: str = value.strip()
    if text.lower().startswith(("https://", "http://")) and len(text) > len("https://") and " " not in text:
        return text
    return None


def uploaded_url(body: Any, _depth: int = 0) -> str | None:
    """Where Productlane keeps the uploaded copy, read from the answer to ``POST /files``:
    a top-level ``url`` (or ``cdn_url``, ``file_url`` …), or the same inside a ``data``/``file``
    wrapper; only an absolute http(s) URL counts. None when the answer holds no such link."""
    if not isinstance(body, Mapping) or _depth > 2:
        return None
    for key in _URL_KEYS:
        found = _http_url(body.get(key))
        if found is not None:
            return found
    for key in _WRAPPERS:
        inner = uploaded_url(body.get(key), _depth + 1)
        if inner is not None:
            return inner
    return None

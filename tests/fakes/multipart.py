"""multipart/form-data request bodies, as the fakes read them (RFC 7578).

The standard library's email parser reads each part's headers; the parts' bytes are sliced out
between the delimiters. Parsed whole by the email parser, a 10 MB upload cost the fake ~0.2 s of
CPU, and the tests send some."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser

_HEADERS = BytesHeaderParser(policy=email.policy.HTTP)


@dataclass(frozen=True)
class Part:
    name: str | None
    filename: str | None
    content_type: str
    data: bytes


def _headers(raw: bytes) -> EmailMessage:
    message = _HEADERS.parsebytes(raw + b"\r\n\r\n")
    assert isinstance(message, EmailMessage)  # what policy.HTTP makes
    return message


def parts(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart/form-data body with that Content-Type; none if it is not one."""
    declared = _headers(f"Content-Type: {content_type}".encode("latin-1"))
    boundary = declared.get_boundary() if declared.get_content_maintype() == "multipart" else None
    if not boundary:
        return []
    # Each delimiter starts a line: CRLF, "--", the boundary (the first may open the body).
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    found: list[Part] = []
    for section in sections[1:]:  # before the first delimiter: the preamble
        if section.startswith(b"--"):  # the closing delimiter: the epilogue follows
            break
        head, blank_line, data = section.partition(b"\r\n\r\n")
        if not blank_line:
            continue
        headers = _headers(head.lstrip(b" \t").removeprefix(b"\r\n"))
        name = headers.get_param("name", header="content-disposition")
        found.append(
            Part(
                name if isinstance(name, str) else None,
                headers.get_filename(),
                headers.get_content_type(),
                data,
            )
        )
    return found

"""What delivery gathers around a submission before composing it: the whole Slack thread when it
was asked for, and the files to copy into Productlane. Plain data and pure reading; fetching is the
Slack side's (bot/slack/capture.py), copying into Productlane the shared budgets'
(bot/budgets/file_copies.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.productlane.uploads import content_type_of
from bot.render.document import CopiedFile

__all__ = [
    "Captured",
    "CopiedFile",
    "FileUnavailable",
    "Gathered",
    "SlackFile",
    "TryLater",
    "is_over_file_share",
    "over_file_share",
    "slack_file",
    "slack_files",
]


class FileUnavailable(Exception):
    """This file cannot be copied, for a reason that will not pass: it stays a link to Slack."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


class TryLater(Exception):
    """Slack (or Productlane) cannot answer now, for a reason that passes: try the item again later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class SlackFile:
    """One file attached to a Slack message, as far as the message (or files.info) tells."""

    id: str
    name: str = ""
    mimetype: str = ""
    filetype: str = ""
    kind: str = ""  # Slack's pretty_type ("PNG", "SVG"), for notes
    size: int | None = None
    permalink: str | None = None
    download_url: str | None = None
    # Slack Connect: the message holds only the id; files.info may tell the rest (or refuse).
    hidden: bool = False
    gone: bool = False  # deleted ("tombstone")
    # How Slack holds it: "hosted" and "snippet" are uploads Slack stores; "external", "post",
    # "hidden_by_limit" and the rest are not files the bot can download. Empty when Slack did not say.
    mode: str = ""
    # A remote file (an app's, a Google Drive link...): its URL is whatever the sharer gave.
    external: bool = False

    @property
    def content_type(self) -> str:
        return content_type_of(self.mimetype, self.filetype)

    def label(self) -> str:
        return self.kind.strip() or self.filetype.strip().upper() or self.content_type


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def slack_file(raw: Mapping[str, Any]) -> SlackFile | None:
    """A file object from a message (or from files.info); None when it has no id."""
    file_id = _str(raw.get("id"))
    if not file_id:
        return None
    size = raw.get("size")
    return SlackFile(
        id=file_id,
        name=_str(raw.get("name")) or _str(raw.get("title")),
        mimetype=_str(raw.get("mimetype")),
        filetype=_str(raw.get("filetype")),
        kind=_str(raw.get("pretty_type")),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        permalink=_str(raw.get("permalink")) or None,
        download_url=_str(raw.get("url_private_download")) or _str(raw.get("url_private")) or None,
        hidden=raw.get("file_access") == "check_file_info" or raw.get("mode") == "file_access",
        gone=raw.get("mode") == "tombstone",
        mode=_str(raw.get("mode")),
        external=raw.get("is_external") not in (None, False) or bool(_str(raw.get("external_type"))),
    )


def slack_files(messages: Iterable[Mapping[str, Any]]) -> tuple[SlackFile, ...]:
    """Every file of these messages, in order, each once."""
    found: dict[str, SlackFile] = {}
    for message in messages:
        files = message.get("files") if isinstance(message, Mapping) else None
        for raw in files if isinstance(files, list) else []:
            parsed = slack_file(raw) if isinstance(raw, Mapping) else None
            if parsed is not None and parsed.id not in found:
                found[parsed.id] = parsed
    return tuple(found.values())


@dataclass(frozen=True)
class Gathered:
    """What Slack had to say around a submission, fetched by delivery just before composing."""

    # The conversation in order (parent first) when "include the whole thread" was ticked and Slack
    # let the bot read it; None for the single message.
    thread: tuple[Mapping[str, Any], ...] | None = None
    # Why the thread could not be read (in words), when it was asked for and Slack refused.
    thread_problem: str | None = None
    files: tuple[SlackFile, ...] = ()


# The end of the note on each file past the share one submission copies (`over_file_share`).
_OVER_FILE_SHARE = " files a submission copies into Productlane"


def over_file_share(most: int) -> str:
    """The note on a file past the first ``most`` of a submission: it stays a link to Slack."""
    return f"past the first {most}{_OVER_FILE_SHARE}"


def is_over_file_share(note: str | None) -> bool:
    return note is not None and note.endswith(_OVER_FILE_SHARE)


@dataclass(frozen=True)
class Captured:
    """Gathered, plus what became of each file (by Slack file id): the input compose renders."""

    thread: tuple[Mapping[str, Any], ...] | None = None
    thread_problem: str | None = None
    copies: Mapping[str, CopiedFile] = field(default_factory=dict)
    files: tuple[SlackFile, ...] = ()

    def submitter_notes(self) -> list[str]:
        """Short lines for the confirmation: what did not make it into Productlane, and why."""
        notes: list[str] = []
        if self.thread_problem:
            notes.append(f"Only the message was sent, not the whole thread: {self.thread_problem}.")
        kept = []
        over_share: list[str] = []
        for file in self.files:
            copy = self.copies.get(file.id)
            if copy is not None and not copy.url:
                if is_over_file_share(copy.note):
                    over_share.append(str(copy.note))
                    continue
                name = file.name or copy.name or "a file"
                kept.append(f"{name} ({copy.note})" if copy.note else name)
        if kept:
            notes.append("Kept as links to Slack: " + "; ".join(kept) + ".")
        if over_share:
            # Counted, not listed: a thread of hundreds of files would make a confirmation of names.
            count = len(over_share)
            files = "file was" if count == 1 else "files were"
            notes.append(f"{count} more {files} kept as links to Slack ({over_share[0]}).")
        return notes

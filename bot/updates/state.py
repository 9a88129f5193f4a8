"""What the bot knows of one thread it created: plain data, shared by the decisions and the renderers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["Link", "Status", "ThreadState"]


class Status(enum.StrEnum):
    OPEN = "open"
    SNOOZED = "snoozed"
    DONE = "done"
    REMOVED = "removed"  # the thread was deleted in Productlane: nothing changes after that


@dataclass(frozen=True)
class Link:
    """A thread's link to an issue and/or project (a Productlane customer need)."""

    need_id: str
    issue_id: str | None
    project_id: str | None
    issue_name: str | None = None
    project_name: str | None = None
    removed: bool = False
    completed: bool = False

    @property
    def name(self) -> str | None:
        return self.issue_name or self.project_name

    def targets(self, kind: Literal["issue", "project"], target_id: str) -> bool:
        return (self.issue_id if kind == "issue" else self.project_id) == target_id


@dataclass(frozen=True)
class ThreadState:
    thread_id: str
    status: Status
    status_as_of: datetime | None
    """The `updated_at` of the snapshot `status` came from; older snapshots are ignored."""
    links: tuple[Link, ...]
    done_reached: bool
    shipped_reached: bool
    is_slack_connect: bool

"""The fake Productlane's lists and the ids that point into them, for the triage fields.

`FakeProductlane.catalog` serves ``GET /companies``, ``/projects``, ``/issues``, ``/tags`` and
``/members`` (cursor pagination in the documented ``{data, page: {cursor, has_more, limit}}``
shape, ``limit`` ≤ 100; scopes ``companies:read``, ``projects:read``, ``issues:read``,
``tags:read``, and ``admin`` for members, as the docs say), and checks every id a create, a PATCH
or a customer-needs POST names against them, answering as Productlane would when one is unknown
(deleted since it was chosen): ``stale_status`` 400 ``validation_failed`` with a detail naming the
field (the documented envelope), or 404 ``not_found`` whose message names what was not found.

Issues and projects are the fake's own (`seed_issue`, `seed_project`); companies, tags and
members live here (`add_company`, `add_tag`, `add_member`; `remove` deletes any of them).
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.productlane import FakeProductlane, RecordedRequest, _Reply

LIST_SCOPES = {
    "companies": "companies:read",
    "projects": "projects:read",
    "issues": "issues:read",
    "tags": "tags:read",
    "members": "admin",
}
CATALOG_SCOPES = tuple(LIST_SCOPES.values())
PAGE_MAX = 100
PAGE_DEFAULT = 50
# Which list each id field of a create or PATCH points into, and what it is called in a message.
ID_FIELDS = {
    "company_id": ("companies", "Company"),
    "project_id": ("projects", "Project"),
    "issue_id": ("issues", "Issue"),
    "assignee_id": ("members", "Member"),
}


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8).upper()


class FakeCatalog:
    def __init__(self, fake: FakeProductlane) -> None:
        self._fake = fake
        self.companies: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.stale_status = 400
        # Replaces a list's answer body (e.g. a bare list, or a {"data": {...}} wrapper): page → body.
        self.answer_shape: dict[str, Any] = {}
        self.list_reads: dict[str, int] = dict.fromkeys(LIST_SCOPES, 0)

    # -- the workspace ---------------------------------------------------------------------------

    def _store(self, kind: str) -> dict[str, dict[str, Any]]:
        stores = {
            "companies": self.companies,
            "tags": self.tags,
            "members": self.members,
            "issues": self._fake._issues,
            "projects": self._fake._projects,
        }
        return stores[kind]

    def add_company(
        self, name: str, domains: tuple[str, ...] = (), *, company_id: str | None = None
    ) -> dict[str, Any]:
        company: dict[str, Any] = {
            "id": company_id or _new_id("co_"),
            "name": name,
            "logo_url": None,
            "domains": list(domains),
            "size": None,
            "revenue": None,
            "status_id": None,
            "status_name": None,
            "tier_id": None,
            "tier_name": None,
            "owner": None,
            "external_ids": {},
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z",
        }
        with self._fake._lock:
            self.companies[company["id"]] = company
        return dict(company)

    def add_tag(self, name: str, *, tag_id: str | None = None) -> dict[str, Any]:
        tag: dict[str, Any] = {
            "id": tag_id or _new_id("tag_"),
            "name": name,
            "color": "#4a3aff",
            "icon": None,
            "tag_group_id": None,
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z",
        }
        with self._fake._lock:
            self.tags[tag["id"]] = tag
        return dict(tag)

    def add_member(self, name: str, email: str, *, member_id: str | None = None) -> dict[str, Any]:
        member: dict[str, Any] = {
            "id": member_id or _new_id("usr_"),
            "email": email,
            "name": name,
            "role": "member",
        }
        with self._fake._lock:
            self.members[member["id"]] = member
        return dict(member)

    def remove(self, kind: str, item_id: str) -> None:
        """Delete an item (``kind``: companies, projects, issues, tags, members)."""
        with self._fake._lock:
            self._store(kind).pop(item_id)

    # -- GET lists -------------------------------------------------------------------------------

    def route(self, record: RecordedRequest, scopes: list[str]) -> _Reply | None:
        """Answers GET /{list} and POST /threads/{id}/customer-needs; None for anything else."""
        fake = self._fake
        kind = record.path.strip("/")
        if record.method == "GET" and kind in LIST_SCOPES:
            with fake._lock:
                self.list_reads[kind] += 1
            return fake._scope(scopes, LIST_SCOPES[kind]) or self._list(kind, record)
        needs = re.fullmatch(r"/threads/([^/]+)/customer-needs", record.path)
        if record.method == "POST" and needs:
            return fake._scope(scopes, "threads:write") or self._add_needs(needs.group(1), record)
        return None

    def _list(self, kind: str, record: RecordedRequest) -> _Reply:
        fake = self._fake
        query = {key: values[-1] for key, values in record.query.items()}
        limit = PAGE_DEFAULT
        if "limit" in query:
            limit = int(query["limit"]) if query["limit"].isdigit() else -1
            if not 1 <= limit <= PAGE_MAX:
                return fake._error(
                    400, details=[{"path": "limit", "message": f"Expected an integer from 1 to {PAGE_MAX}"}]
                )
        start = 0
        if "cursor" in query:
            match = re.fullmatch(r"cur_(\d+)", query["cursor"])
            if match is None:
                return fake._error(400, details=[{"path": "cursor", "message": "Invalid cursor"}])
            start = int(match.group(1))
        with fake._lock:
            items = [dict(item) for item in self._store(kind).values()]
            shape = self.answer_shape.get(kind)
        page = items[start : start + limit]
        has_more = start + limit < len(items)
        body: Any = {
            "data": page,
            "page": {
                "cursor": f"cur_{start + limit}" if has_more else None,
                "has_more": has_more,
                "limit": limit,
            },
        }
        return fake._json(200, shape(body) if callable(shape) else body)

    # -- ids named by writes ---------------------------------------------------------------------

    def unknown(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """(field path, what) for each id in a create/PATCH/needs body that names nothing here."""
        found: list[tuple[str, str]] = []
        with self._fake._lock:
            for field, (kind, what) in ID_FIELDS.items():
                value = body.get(field)
                if isinstance(value, str) and value not in self._store(kind):
                    found.append((field, what))
            for field, kind, what in (("tag_ids", "tags", "Tag"), ("issue_ids", "issues", "Issue")):
                values = body.get(field)
                for position, value in enumerate(values if isinstance(values, list) else []):
                    if value not in self._store(kind):
                        found.append((f"{field}.{position}", what))
            for position, value in enumerate(body.get("project_ids") or []):
                if value not in self._store("projects"):
                    found.append((f"project_ids.{position}", "Project"))
        return found

    def refusal(self, unknown: list[tuple[str, str]]) -> _Reply:
        """Productlane's answer to ids it does not know."""
        if self.stale_status == 404:
            path, what = unknown[0]
            return self._fake._error(404, message=f"{what} not found.")
        details = [{"path": path, "message": f"{what} not found"} for path, what in unknown]
        path, what = unknown[0]
        return self._fake._error(
            400, message=f"Validation failed: {path}: {what} not found.", details=details
        )

    def apply_patch(self, thread: dict[str, Any], body: dict[str, Any]) -> None:
        """What a PATCH's triage fields do to the stored thread (under the fake's lock)."""
        if "company_id" in body:
            company = self.companies.get(body["company_id"]) if body["company_id"] else None
            thread["company"] = dict(company) if company else None
        if "assignee_id" in body:
            member = self.members.get(body["assignee_id"]) if body["assignee_id"] else None
            thread["assignee"] = (
                {"id": member["id"], "name": member["name"], "email": member["email"], "image_url": None}
                if member
                else None
            )
        if "tag_ids" in body and isinstance(body["tag_ids"], list):
            thread["tags"] = [dict(self.tags[tag]) for tag in body["tag_ids"] if tag in self.tags]
        if body.get("project_id"):
            self._link(thread, project_id=body["project_id"])

    def _link(
        self, thread: dict[str, Any], *, issue_id: str | None = None, project_id: str | None = None
    ) -> None:
        need = {
            "id": _new_id("cn_"),
            "thread_id": thread["id"],
            "issue_id": issue_id,
            "project_id": project_id,
            "priority": 0,
            "created_at": thread["updated_at"],
            "updated_at": thread["updated_at"],
        }
        thread["customer_needs"].append(need)
        self._fake._needs[need["id"]] = dict(need)

    def _add_needs(self, thread_id: str, record: RecordedRequest) -> _Reply:
        fake = self._fake
        body = record.json if isinstance(record.json, dict) else {}
        unknown = self.unknown(body)
        if unknown:
            return self.refusal(unknown)
        with fake._changed:
            thread = next((t for t in fake._threads if t["id"] == thread_id), None)
            if thread is None:
                return fake._error(404, message="Thread not found.")
            for issue in body.get("issue_ids") or []:
                self._link(thread, issue_id=issue)
            for project in body.get("project_ids") or []:
                self._link(thread, project_id=project)
            fake._changed.notify_all()
            return fake._json(201, {"data": thread["customer_needs"]})

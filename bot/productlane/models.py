"""Typed models of the Productlane API v2, field by field from the API reference.

Requests are strict (``extra="forbid"``, documented limits enforced) so that a bad request fails
here, before it is queued, rather than at Productlane. Responses are lenient (``extra="allow"``,
nullable wherever the API may send null, open strings where the API may add values) so that a new
field or a new enum value in an answer never turns a created thread into an error.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_serializer

__all__ = [
    "AddCustomerNeeds",
    "Assignee",
    "Comment",
    "CommentPage",
    "Company",
    "CompanyOwner",
    "Contact",
    "CreateComment",
    "CreateThread",
    "CustomerNeed",
    "ExternalIds",
    "Issue",
    "ListPage",
    "Me",
    "Notify",
    "PageInfo",
    "PainLevel",
    "Person",
    "Project",
    "Reporter",
    "Tag",
    "Thread",
    "ThreadOrigin",
    "ThreadPage",
    "ThreadStatus",
    "ThreadTab",
    "UpdateThread",
    "UploadedFile",
    "body_fingerprint",
]

TITLE_MAX_LENGTH = 512


# Member names are the wire values (``ThreadOrigin.slack``, ``PainLevel.HIGH``), so
# ``value in Enum.__members__`` and ``Enum[value]`` work ("needs-response": ``needs_response``).


class PainLevel(StrEnum):
    UNKNOWN = "UNKNOWN"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ThreadStatus(StrEnum):
    open = "open"
    snoozed = "snoozed"
    done = "done"


class ThreadTab(StrEnum):
    open = "open"
    new = "new"
    needs_response = "needs-response"
    my = "my"
    snoozed = "snoozed"
    done = "done"


class ThreadOrigin(StrEnum):
    in_app = "in_app"
    portal = "portal"
    support_portal = "support_portal"
    email = "email"
    slack = "slack"
    slack_connect = "slack_connect"
    intercom = "intercom"
    intercom_attachment = "intercom_attachment"
    zendesk = "zendesk"
    zendesk_attachment = "zendesk_attachment"
    front_attachment = "front_attachment"
    zapier = "zapier"
    hubspot = "hubspot"
    plain = "plain"
    productboard = "productboard"
    api = "api"
    live_chat = "live_chat"


# --------------------------------------------------------------------------- request


class Notify(BaseModel):
    """Side-channel notifications Productlane fires alongside the write."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    slack: bool = False
    email: bool = False


class CreateThread(BaseModel):
    """Body of ``POST /v2/threads``.

    Send it as :meth:`to_json` (``model_dump(mode="json", exclude_none=True)``): optional fields
    that are ``None`` are left out, ``pain_level`` is always sent, datetimes go out in UTC
    with a ``Z``.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: str = Field(min_length=1, description="Thread body (HTML).")
    pain_level: PainLevel = PainLevel.UNKNOWN
    contact_email: EmailStr
    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)
    status: ThreadStatus | None = None
    origin: ThreadOrigin | None = None
    contact_name: str | None = None
    assignee_id: str | None = None
    company_id: str | None = None
    project_id: str | None = None
    issue_id: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    notify: Notify | None = None

    @field_serializer("created_at", "updated_at", when_used="json-unless-none")
    def _utc(self, value: datetime) -> str:
        # RFC 3339 in UTC with "Z": the most widely accepted date-time spelling.
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def to_json(self) -> dict[str, Any]:
        """The JSON body to send."""
        return self.model_dump(mode="json", exclude_none=True)


# --- capture: changing a thread after it was sent, and where an upload went -------------------


class UpdateThread(BaseModel):
    """Body of ``PATCH /v2/threads/{id}``: only what "Edit details" (and the tags after a create)
    change. Only the fields given are sent, so Productlane keeps the rest; a field given as
    ``None`` is sent as ``null`` (clears it: a company or assignee taken off in Edit details).
    ``tag_ids`` replaces the thread's whole set of tags."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)
    pain_level: PainLevel | None = None
    company_id: str | None = None
    assignee_id: str | None = None
    project_id: str | None = None
    tag_ids: list[str] | None = None
    # The body again, whole: follow-ups re-render the conversation when Productlane
    # refuses comments.
    text: str | None = Field(default=None, min_length=1)

    def to_json(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_unset=True)
        # A title or pain level is never cleared: None there means "keep it", as it always did.
        return {k: v for k, v in body.items() if v is not None or k in _CLEARABLE}


_CLEARABLE = frozenset({"company_id", "assignee_id"})


class AddCustomerNeeds(BaseModel):
    """Body of ``POST /v2/threads/{id}/customer-needs`` (client-claimed): link the thread to issues
    or projects. Productlane documents no way to link an issue by ``PATCH``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    issue_ids: list[str] | None = None
    project_ids: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CreateComment(BaseModel):
    """Body of ``POST /v2/threads/{id}/comments`` (scope ``comments:write``; client-claimed, not in
    the pages we could read): an internal note on the thread, ``content`` in HTML."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    content: str = Field(min_length=1)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class UploadedFile(BaseModel):
    """What ``POST /v2/files`` answered: the copy's URL (None when the answer held none: the file
    then counts as not uploaded) and its id, where the answer says."""

    model_config = ConfigDict(frozen=True)

    url: str | None
    id: str | None = None


# --------------------------------------------------------------------------- responses


class _Response(BaseModel):
    """Base of every answer model: unknown fields are kept, never an error."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class ExternalIds(_Response):
    intercom: str | None = None
    front: str | None = None
    zendesk: str | None = None
    hubspot: str | None = None
    plain: str | None = None
    productboard: str | None = None
    slack_channel: str | None = None


class Contact(_Response):
    id: str
    email: str | None = None
    name: str | None = None
    image_url: str | None = None
    company_id: str | None = None
    is_subscribed: bool | None = None
    external_ids: ExternalIds | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CompanyOwner(_Response):
    id: str
    name: str | None = None
    avatar_url: str | None = None


class Company(_Response):
    id: str
    name: str | None = None
    logo_url: str | None = None
    domains: list[str] = Field(default_factory=list)
    size: int | float | None = None
    revenue: int | float | None = None
    status_id: str | None = None
    status_name: str | None = None
    tier_id: str | None = None
    tier_name: str | None = None
    owner: CompanyOwner | None = None
    external_ids: ExternalIds | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Person(_Response):
    """A workspace user as it appears in ``assignee`` and ``reporter``."""

    id: str
    name: str | None = None
    email: str | None = None
    image_url: str | None = None


Assignee = Person
Reporter = Person


class Tag(_Response):
    id: str
    name: str | None = None
    color: str | None = None
    icon: str | None = None
    tag_group_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CustomerNeed(_Response):
    id: str
    thread_id: str | None = None
    project_id: str | None = None
    issue_id: str | None = None
    priority: int | float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Thread(_Response):
    """A Productlane thread (the answer of ``POST /threads`` and the items of ``GET /threads``).

    ``id``, ``created_at``, ``updated_at`` and ``text`` are required; documented enums accept values
    added later as plain strings (tried as the enum first); everything else may be null or missing.
    """

    id: str
    created_at: datetime
    updated_at: datetime
    text: str
    title: str | None = None
    pain_level: PainLevel | str | None = Field(default=None, union_mode="left_to_right")
    origin: str | None = None
    status: ThreadStatus | str | None = Field(default=None, union_mode="left_to_right")
    tab: ThreadTab | str | None = Field(default=None, union_mode="left_to_right")
    snoozed_until: datetime | None = None
    last_inbound_message_at: datetime | None = None
    last_outbound_message_at: datetime | None = None
    last_state_change_at: datetime | None = None
    is_read: bool | None = None
    contact: Contact | None = None
    company: Company | None = None
    assignee: Person | None = None
    reporter: Person | None = None
    tags: list[Tag] = Field(default_factory=list)
    customer_needs: list[CustomerNeed] = Field(default_factory=list)
    external_ids: ExternalIds | None = None
    ai_draft_html: str | None = None
    ai_draft_sources: list[Any] | None = None
    ai_draft_generated_at: datetime | None = None
    ai_draft_started_at: datetime | None = None
    ai_draft_error_at: datetime | None = None


class Me(_Response):
    """``GET /me``: what the key is and what it may do."""

    workspace_id: str
    api_key_id: str
    scopes: list[str] = Field(default_factory=list)
    linear_team_ids: list[str] = Field(default_factory=list)
    default_linear_team_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        """Whether the key was granted ``scope`` (exact match, e.g. ``"threads:write"``)."""
        return scope in self.scopes


class PageInfo(_Response):
    cursor: str | None = None
    has_more: bool = False
    limit: int


class ThreadPage(_Response):
    """One page of ``GET /threads``."""

    data: list[Thread]
    page: PageInfo


class _Named(_Response):
    """An issue or a project. Their shape is not in the pages we could read (only a v2 client's
    claim), so everything but ``id`` is optional and either ``name`` or ``title`` may carry the name."""

    id: str
    name: str | None = None
    title: str | None = None
    status: str | None = None
    state: str | None = None
    completed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def display_name(self) -> str | None:
        """The name to show people, or ``None`` when the answer carries none."""
        for value in (self.name, self.title):
            if value and value.strip():
                return value.strip()
        return None


class Issue(_Named):
    """``GET /issues/{id}`` (scope ``issues:read``)."""


class Project(_Named):
    """``GET /projects/{id}`` (scope ``projects:read``)."""


class ListPage(BaseModel):
    """One page of a list endpoint (``GET /companies``, ``/projects``, ``/issues``, ``/tags``,
    ``/members``), as raw items: their shapes are partly unseen, so each reader takes what it
    understands of each item. ``cursor`` is where the next page starts (None: this was the last)."""

    model_config = ConfigDict(frozen=True)

    items: list[dict[str, Any]]
    cursor: str | None = None


_LIST_KEYS = ("data", "items", "results", "nodes")
_CURSOR_KEYS = ("next_cursor", "cursor", "nextCursor", "end_cursor")


def read_list_page(body: Any) -> ListPage | None:
    """A list answer in any of the shapes such APIs use, or None when it holds no list.

    Documented for ``GET /threads``: ``{"data": [...], "page": {"cursor", "has_more", "limit"}}``.
    Also taken: a bare list, the list under ``items``/``results``/``nodes``, a ``{"data": {...}}``
    wrapper around any of these, and the cursor at the top level or under ``pagination``. A cursor
    with ``has_more: false`` is not followed.
    """
    if isinstance(body, list):
        return ListPage(items=[item for item in body if isinstance(item, dict)])
    if not isinstance(body, dict):
        return None
    found = next((body[key] for key in _LIST_KEYS if isinstance(body.get(key), list)), None)
    if found is None:
        inner = body.get("data")
        return read_list_page(inner) if isinstance(inner, dict) else None
    cursor: str | None = None
    has_more: bool | None = None
    for holder in (body.get("page"), body.get("pagination"), body.get("page_info"), body):
        if not isinstance(holder, dict):
            continue
        if has_more is None and isinstance(holder.get("has_more"), bool):
            has_more = holder["has_more"]
        if cursor is None:
            cursor = next(
                (str(holder[key]) for key in _CURSOR_KEYS if isinstance(holder.get(key), str | int)), None
            )
    if has_more is False or not cursor:
        cursor = None
    return ListPage(items=[item for item in found if isinstance(item, dict)], cursor=cursor)


class Comment(_Response):
    """A comment (internal note) on a thread, as ``POST``/``GET /threads/{id}/comments`` answer
    (client-claimed: only ``id`` is relied on; ``content`` is read when listing)."""

    id: str
    thread_id: str | None = None
    content: str | None = None
    created_at: datetime | None = None


class CommentPage(_Response):
    """One page of ``GET /threads/{id}/comments`` (UNSEEN: read as the documented list shape,
    ``{data, page}``; a bare list is taken too)."""

    data: list[Comment] = Field(default_factory=list)
    page: PageInfo | None = None


def body_fingerprint(text: str) -> str:
    """SHA-256 (hex) of a thread's body as Productlane returned it: what the bot wrote is compared
    with what the thread holds now, so a body changed in Productlane is never overwritten."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

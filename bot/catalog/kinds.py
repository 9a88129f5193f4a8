"""The five lists the catalog keeps, and what reading each takes."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """A list of Productlane's, by the path it is read from (``GET /{kind}``)."""

    COMPANIES = "companies"
    PROJECTS = "projects"
    ISSUES = "issues"
    TAGS = "tags"
    MEMBERS = "members"


# The scope a key needs to read each list. Productlane's 403 names it too (`required`), and that
# is what `check` shows when it does; these are what the docs say (members: the admin scope).
READ_SCOPES: dict[Kind, str] = {
    Kind.COMPANIES: "companies:read",
    Kind.PROJECTS: "projects:read",
    Kind.ISSUES: "issues:read",
    Kind.TAGS: "tags:read",
    Kind.MEMBERS: "admin",
}

"""A Productlane workspace of the size the triage fields are meant to serve: 5,000 issues, 500
projects, 3,000 companies, 300 tags and 200 members, with names as people write them (accents,
product words, ticket-like titles), seeded into the fake Productlane. Shared by bench_suggest and
bench_modal_open."""

from __future__ import annotations

import random
from typing import Any

SIZES = {"issues": 5000, "projects": 500, "companies": 3000, "tags": 300, "members": 200}
SCOPES = (
    "threads:read",
    "threads:write",
    "companies:read",
    "projects:read",
    "issues:read",
    "tags:read",
    "admin",
)

_VERBS = ["Export", "Import", "Sync", "Login", "Search", "Billing", "Invoice", "Upload", "Webhook", "Report"]
_THINGS = [
    "CSV",
    "PDF",
    "SSO",
    "SAML",
    "dashboard",
    "API",
    "mobile app",
    "Slack",
    "calendar",
    "permissions",
    "dark mode",
    "audit log",
    "charts",
    "filters",
    "notifications",
]
_TROUBLE = [
    "times out",
    "stalls at 99%",
    "is slow for large workspaces",
    "fails silently",
    "shows the wrong totals",
    "needs a retry button",
    "loses the selection",
    "breaks on Safari",
    "ignores the time zone",
    "should support bulk edits",
]
_COMPANY_WORDS = [
    "Acme",
    "Crème",
    "Brûlée",
    "Nordlicht",
    "Zürich",
    "Bright",
    "Harbor",
    "Müller",
    "Peak",
    "Sol",
    "Verde",
    "Atlas",
    "Quantum",
    "Élan",
    "Fjord",
    "Orbit",
]
_COMPANY_KINDS = ["Labs", "GmbH", "SA", "Inc", "Ltd", "Group", "Studio", "Systems", "AG", "Co"]
_FIRST = ["Dana", "Sam", "Zoë", "José", "Ana", "Björn", "Chloé", "Omar", "Priya", "Lee", "Noémie", "Jonas"]
_LAST = ["Whitfield", "Okafor", "García", "Nguyen", "Müller", "Dubois", "Kim", "Rossi", "Ibrahim", "Novak"]


def seed_workspace(productlane: Any, rng: random.Random) -> dict[str, list[str]]:
    """Fill the fake Productlane; the names of each list (for queries that find something)."""
    names: dict[str, list[str]] = {kind: [] for kind in SIZES}
    for n in range(SIZES["issues"]):
        name = f"{rng.choice(_VERBS)} {rng.choice(_THINGS)} {rng.choice(_TROUBLE)} (#{n + 1})"
        names["issues"].append(productlane.seed_issue(name)["name"])
    for n in range(SIZES["projects"]):
        name = f"{rng.choice(_THINGS).title()} {rng.choice(['v2', 'revamp', 'for enterprise', 'GA'])} {n + 1}"
        names["projects"].append(productlane.seed_project(name)["name"])
    for n in range(SIZES["companies"]):
        name = (
            f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_KINDS)} {n + 1}"
        )
        productlane.catalog.add_company(name, (f"company{n + 1}.example",))
        names["companies"].append(name)
    for n in range(SIZES["tags"]):
        kind = rng.choice(["bug", "request", "churn risk", "enterprise", "ux"])
        name = f"{rng.choice(_THINGS)} {kind} {n + 1}"
        names["tags"].append(productlane.catalog.add_tag(name)["name"])
    for n in range(SIZES["members"]):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first.lower()}.{last.lower()}{n}@acme.example"
        names["members"].append(productlane.catalog.add_member(f"{first} {last}", email)["name"])
    return names


def queries(names: list[str], rng: random.Random, count: int) -> list[str]:
    """What people type: a word's first letters, two words in any order, another case, no accents,
    nothing yet, or something that is not there."""
    found: list[str] = []
    for _ in range(count):
        words = rng.choice(names).split()
        kind = rng.random()
        if kind < 0.1:
            found.append("")
        elif kind < 0.45:
            word = rng.choice(words)
            found.append(word[: rng.randint(1, max(1, len(word)))])
        elif kind < 0.75 and len(words) > 1:
            pair = rng.sample(words, 2)
            found.append(f"{pair[0]} {pair[1][:3]}")
        elif kind < 0.9:
            found.append(" ".join(words[:2]).upper().replace("É", "E").replace("Ü", "U"))
        else:
            found.append("zzqx nothing")
    return found

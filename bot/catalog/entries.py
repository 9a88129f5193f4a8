"""One item of a list, as the catalog keeps it: an id, a name to show and search, and what else it
can be found by (a company's domains, a member's email, an issue's identifier).

Productlane's list answers are only partly documented (the item shapes of `/projects`, `/issues`,
`/tags` and `/members` are claimed by a third-party client; `/companies` items match the Company of
the thread answer), so each item is read defensively: an id and something to call it are all it
needs, anything else is used when it is there and ignored when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.catalog.kinds import Kind

# An option's value may hold 150 characters; "project:" is the longest prefix we put before an id.
ID_MAX = 140
NAME_MAX = 512
# Words for a finished issue or project, in the status/state fields seen or claimed for them.
_CLOSED_STATES = frozenset({"completed", "done", "canceled", "cancelled", "closed", "archived", "shipped"})


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    name: str
    # Also searched (after the name): a company's domains, a member's email, an issue's identifier.
    aliases: tuple[str, ...] = ()
    # A finished issue or project: still offered, after the open ones.
    closed: bool = False


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def _id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    text = _text(value)
    return text if text and len(text) <= ID_MAX and " " not in text else None


def domain_of(value: str) -> str | None:
    """``https://www.Acme.com/about`` → ``acme.com``; an email's domain; None if it is none."""
    text = value.strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = text.removeprefix("https://").removeprefix("http://").removeprefix("www.")
    text = text.split("/", 1)[0].split(":", 1)[0].strip(".")
    return text if "." in text and " " not in text else None


def _domains(raw: Mapping[str, Any]) -> tuple[str, ...]:
    values: list[Any] = []
    for key in ("domains", "domain", "website"):
        found = raw.get(key)
        values += found if isinstance(found, list) else [found]
    domains = [domain_of(value) for value in values if isinstance(value, str)]
    return tuple(dict.fromkeys(domain for domain in domains if domain))


def _closed(raw: Mapping[str, Any]) -> bool:
    for key in ("status", "state"):
        value = raw.get(key)
        if isinstance(value, Mapping):  # e.g. {"name": "Done", "type": "completed"}
            value = value.get("type") or value.get("name")
        if isinstance(value, str) and value.strip().lower() in _CLOSED_STATES:
            return True
    return any(raw.get(key) for key in ("completed_at", "canceled_at", "archived_at"))


def _gone(raw: Mapping[str, Any]) -> bool:
    """A deleted or deactivated item some APIs still list."""
    return bool(raw.get("deleted") or raw.get("deleted_at") or raw.get("is_active") is False)


def entry_from(kind: Kind, raw: Mapping[str, Any]) -> Entry | None:
    """The entry for one raw item of ``GET /{kind}``; None for an item we cannot offer."""
    item_id = _id(raw.get("id"))
    if item_id is None or _gone(raw):
        return None
    email = _text(raw.get("email"))
    name = _text(raw.get("name")) or _text(raw.get("title")) or _text(raw.get("display_name"))
    aliases: tuple[str, ...] = ()
    if kind is Kind.COMPANIES:
        aliases = _domains(raw)
        name = name or (aliases[0] if aliases else None)
    elif kind is Kind.MEMBERS:
        aliases = (email.lower(),) if email else ()
        name = name or email
    elif kind is Kind.ISSUES:
        identifier = _text(raw.get("identifier")) or _text(raw.get("key"))
        aliases = (identifier,) if identifier else ()
    if name is None:
        return None
    closed = kind in (Kind.ISSUES, Kind.PROJECTS) and _closed(raw)
    return Entry(id=item_id, name=name[:NAME_MAX], aliases=aliases, closed=closed)

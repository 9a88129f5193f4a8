"""`productlane-slack check`: which triage fields the API key can serve, and which scope would add
the rest. One read of each list (one item), outside the catalog's budget: `check` runs by hand."""

from __future__ import annotations

from bot.catalog.kinds import READ_SCOPES, Kind
from bot.productlane import NotFoundError, ProductlaneClient, ProductlaneError, ScopeError

__all__ = ["readable_lists", "triage_detail"]

# Each field of the modal, and the lists it offers.
_FIELDS: tuple[tuple[str, tuple[Kind, ...]], ...] = (
    ("Company", (Kind.COMPANIES,)),
    ("Link to", (Kind.ISSUES, Kind.PROJECTS)),
    ("Tags", (Kind.TAGS,)),
    ("Assignee", (Kind.MEMBERS,)),
)


def readable_lists(productlane: ProductlaneClient) -> dict[Kind, str | None]:
    """For each list: None when the key reads it, else what it takes (the scope Productlane asks
    for) or what went wrong."""
    found: dict[Kind, str | None] = {}
    for kind in Kind:
        try:
            productlane.list_page(kind.value, limit=1)
        except ScopeError as error:
            found[kind] = ", ".join(error.required) or READ_SCOPES[kind]
        except NotFoundError:
            found[kind] = f"a Productlane that serves GET /{kind.value}"
        except ProductlaneError as error:
            found[kind] = (
                f"GET /{kind.value} to answer (it failed: {error.code or error.status or 'no answer'})"
            )
        else:
            found[kind] = None
    return found


def triage_detail(readable: dict[Kind, str | None]) -> str:
    """e.g. "Company, Tags; Link to needs issues:read, projects:read; Assignee needs admin"."""
    shown: list[str] = []
    missing: list[str] = []
    for name, kinds in _FIELDS:
        lacking = [kind for kind in kinds if readable.get(kind)]
        if not lacking:
            shown.append(name)
            continue
        needs = ", ".join(dict.fromkeys(str(readable[kind]) for kind in lacking))
        if len(lacking) < len(kinds):
            only = next(kind for kind in kinds if kind not in lacking)
            shown.append(f"{name} ({only.value} only)")
            missing.append(f"{lacking[0].value} in {name} need {needs}")
        else:
            missing.append(f"{name} needs {needs}")
    head = ", ".join(shown) if shown else "none (the modal is as it was without them)"
    return head + "".join(f"; {part}" for part in missing)

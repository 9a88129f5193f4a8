"""JSON from outside, read with a bound on its nesting. Pure.

``json.loads`` on a body nested deeper than the interpreter's recursion limit raises
RecursionError (not ValueError); one nested a few hundred deep parses, then fails later in
whatever walks it (pydantic's serializer gives up at a few hundred levels, the database's JSON
encoder at the recursion limit), far from where it could be refused cleanly. Nothing Slack or
Productlane sends comes near `MAX_DEPTH`, so a body over it is refused where it is read, as a
ValueError like any other unreadable body.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["MAX_DEPTH", "UnreadableJSON", "loads", "nested_deeper_than"]

# Slack's deepest payloads (rich text lists in a message in an attachment, a view's state) stay
# under 30 levels; Productlane's snapshots under 10.
MAX_DEPTH: Final = 100


class UnreadableJSON(ValueError):
    """Not JSON, or JSON nested deeper than allowed."""


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) has containers nested more than ``limit`` deep. Iterative:
    no recursion however deep it is, and each container is visited once."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        children = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that fails only with `UnreadableJSON`: on what is not JSON (or not UTF-8),
    and on anything nested deeper than ``max_depth``."""
    try:
        value = json.loads(raw)
    except RecursionError as error:
        raise UnreadableJSON("nested too deeply") from error
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise UnreadableJSON("not JSON") from error
    if nested_deeper_than(value, max_depth):
        raise UnreadableJSON("nested too deeply")
    return value

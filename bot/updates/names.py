"""Names of Productlane issues and projects, for "Linked to …" and "Shipped: …".

`GET /issues/{id}` needs ``issues:read`` and `GET /projects/{id}` ``projects:read``. A key without
the scope gets no names (said once in the log), and no more requests are spent asking.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from bot.productlane import NotFoundError, ProductlaneClient, ProductlaneError, ScopeError

__all__ = ["NameLookup"]

log = logging.getLogger(__name__)

Kind = Literal["issue", "project"]
SCOPES: dict[Kind, str] = {"issue": "issues:read", "project": "projects:read"}


class NameLookup:
    """Looks names up, caching answers (names rarely change) for ``ttl`` seconds."""

    def __init__(
        self,
        productlane: ProductlaneClient,
        *,
        ttl: float = 3600.0,
        max_entries: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._productlane = productlane
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Kind, str], tuple[str | None, float]] = OrderedDict()
        self._no_scope: set[Kind] = set()

    def name(self, kind: Kind, target_id: str) -> str | None:
        """The issue's or project's name; None when the key may not read it or it is unknown."""
        key = (kind, target_id)
        with self._lock:
            if kind in self._no_scope:
                return None
            cached = self._cache.get(key)
            if cached is not None and cached[1] > self._clock():
                return cached[0]
        try:
            found = (
                self._productlane.get_issue(target_id)
                if kind == "issue"
                else self._productlane.get_project(target_id)
            )
            name = found.display_name
        except ScopeError:
            with self._lock:
                if kind not in self._no_scope:
                    log.info(
                        "the Productlane key lacks %s: %s names are not shown in Slack", SCOPES[kind], kind
                    )
                self._no_scope.add(kind)
            return None
        except NotFoundError:
            name = None
        except ProductlaneError as error:
            # Not cached: a later event may get the name once Productlane answers again.
            log.info(
                "could not read the name of %s %s (%s)", kind, target_id, error.code or type(error).__name__
            )
            return None
        with self._lock:
            self._cache[key] = (name, self._clock() + self._ttl)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return name

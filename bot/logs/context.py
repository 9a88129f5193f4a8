"""What a log entry is about, known from where it is written rather than passed to every call: the
outbox item a delivery sender is settling. A context variable, so each thread has its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_outbox_item", "outbox_item"]

_OUTBOX_ITEM: ContextVar[int | None] = ContextVar("outbox_item", default=None)


@contextmanager
def outbox_item(item_id: int) -> Iterator[None]:
    """Entries written inside carry ``outbox_item_id`` (in the JSON format)."""
    token = _OUTBOX_ITEM.set(item_id)
    try:
        yield
    finally:
        _OUTBOX_ITEM.reset(token)


def current_outbox_item() -> int | None:
    return _OUTBOX_ITEM.get()

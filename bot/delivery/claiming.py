"""How the worker picks the next due items (`Outbox.claim`), at a cost that does not grow with the backlog.

A flood leaves tens of thousands of items waiting, and on SQLite every claim holds the write lock each
ack waits for. One statement over all due items (an OR of two statuses, "its turn" checked row by
row, then sorted) read and sorted the whole backlog on every claim. Instead each kind of candidate is
read from an index of its own, in the order it is sent, and each read stops at ``limit``:

- free items (not in an in-order queue), pending and due: ``outbox_items_free``, in due order;
- the head of each in-order queue, its earliest item still waiting for its thread: one seek per
  queue in ``outbox_items_waiting`` (a recursive walk from queue to queue), so a queue of 100,000
  captured messages costs what a queue of one does. The head is claimable when it is pending and
  due, or its lease ran out;
- items whose thread exists with their reply still to post: ``outbox_items_replies`` (few; the only
  ones claimed while writes are paused);
- items whose lease ran out (their worker died): ``outbox_items_lease`` (few).

The candidates are merged in due order and the first ``limit`` claimed. The partial indexes'
conditions are written as literals in the statements, so that SQLite and PostgreSQL (whose prepared
statements are planned without the parameters' values) can tell the index covers them. SQLite, which
keeps no statistics here, is told the index (``INDEXED BY``: the statement fails rather than fall
back to reading the backlog); PostgreSQL is told not to scan the table nor compile the statements (JIT)
for the claim's transaction, and locks what it reads (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db.types import to_micros
from bot.delivery.schema import IN_ORDER, POSITION_CHARS, items

__all__ = ["candidates", "queue_of"]

_WAITING = "{t}.status IN ('pending', 'sending') AND {t}.result IS NULL AND {t}.in_order_queue IS NOT NULL"

# No earlier item of the row's queue still waits for its thread (always true for a free item).
_NOT_BLOCKED = (
    "NOT EXISTS (SELECT 1 FROM outbox_items AS earlier {waiting_index}"  # noqa: S608 - constants, no input
    " WHERE " + _WAITING.format(t="earlier") + " AND earlier.in_order_queue = outbox_items.in_order_queue"
    " AND earlier.dedupe_key < outbox_items.dedupe_key)"
)

_STALE = (
    "SELECT next_attempt_at, id FROM outbox_items {lease_index}"  # noqa: S608 - constants, no input
    " WHERE status = 'sending' AND lease_until <= :at {only_replies} AND "
    + _NOT_BLOCKED
    + " ORDER BY lease_until LIMIT :limit {lock}"
)
_FREE = (
    "SELECT next_attempt_at, id FROM outbox_items {free_index}"
    " WHERE status = 'pending' AND in_order_queue IS NULL AND next_attempt_at <= :at"
    " ORDER BY next_attempt_at, id LIMIT :limit {lock}"
)
_REPLIES = (
    "SELECT next_attempt_at, id FROM outbox_items {replies_index}"  # noqa: S608 - constants, no input
    " WHERE status = 'pending' AND result IS NOT NULL AND next_attempt_at <= :at {only_queued}"
    " AND " + _NOT_BLOCKED + " ORDER BY next_attempt_at, id LIMIT :limit {lock}"
)
# Each step of the walk is a scalar subquery (SQLite allows no LIMIT on a bare member of the
# recursive union); a NULL ends it.
_HEADS = (
    "WITH RECURSIVE queues(name) AS ("  # noqa: S608 - constants, no input
    " SELECT (SELECT w.in_order_queue FROM outbox_items AS w {waiting_index}"
    " WHERE " + _WAITING.format(t="w") + " ORDER BY w.in_order_queue LIMIT 1)"
    " UNION ALL"
    " SELECT (SELECT w.in_order_queue FROM outbox_items AS w {waiting_index}"
    " WHERE " + _WAITING.format(t="w") + " AND w.in_order_queue > queues.name"
    " ORDER BY w.in_order_queue LIMIT 1)"
    " FROM queues WHERE queues.name IS NOT NULL)"
    " SELECT head.next_attempt_at, head.id FROM queues JOIN outbox_items AS head ON head.id = ("
    " SELECT w.id FROM outbox_items AS w {waiting_index}"
    " WHERE " + _WAITING.format(t="w") + " AND w.in_order_queue = queues.name"
    " ORDER BY w.dedupe_key LIMIT 1)"
    " WHERE (head.status = 'pending' AND head.next_attempt_at <= :at)"
    " OR (head.status = 'sending' AND head.lease_until <= :at)"
)


def _statements(sqlite: bool) -> dict[str, sa.TextClause]:
    def indexed(name: str) -> str:
        return f"INDEXED BY {name}" if sqlite else ""

    fill = {
        "waiting_index": indexed("outbox_items_waiting"),
        "lease_index": indexed("outbox_items_lease"),
        "free_index": indexed("outbox_items_free"),
        "replies_index": indexed("outbox_items_replies"),
        "lock": "" if sqlite else "FOR UPDATE SKIP LOCKED",
    }
    return {
        "stale": sa.text(_STALE.format(only_replies="", **fill)),
        "stale replies": sa.text(_STALE.format(only_replies="AND result IS NOT NULL", **fill)),
        "free": sa.text(_FREE.format(**fill)),
        "replies": sa.text(_REPLIES.format(only_queued="", **fill)),
        "queued replies": sa.text(_REPLIES.format(only_queued="AND in_order_queue IS NOT NULL", **fill)),
        "heads": sa.text(_HEADS.format(**fill)),
    }


_SQLITE = _statements(sqlite=True)
_POSTGRESQL = _statements(sqlite=False)

# For the rest of the claim's transaction (PostgreSQL). JIT compiles a statement whose estimated cost
# passes jit_above_cost, and the walk's estimate grows with the table however few rows it reads (each
# step priced as a scan of the index or the table, times the iterations the planner assumes): at
# 120,000 items it was priced at up to 3 million and compiled on every run, 100-550 ms each, for a
# read of under a millisecond (bench/bench_claim.py). No read of the claim touches enough rows for JIT
# to pay. Sequential scans off, the nearest PostgreSQL has to INDEXED BY: the same mispricing chose a
# scan and sort of the whole table for the walk's step, cheap only while no queue has items.
_PLANNER = sa.text("SELECT set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)")


def queue_of(dedupe_key: str) -> str | None:
    """The in-order queue an item waits its turn in (its key without the position), or None."""
    return dedupe_key[:-POSITION_CHARS] if dedupe_key.startswith(IN_ORDER) else None


def candidates(conn: Connection, at: datetime, limit: int, *, replies_only: bool) -> list[int]:
    """The ids of up to ``limit`` claimable items, oldest due first, each read through an index."""
    postgresql = conn.dialect.name == "postgresql"
    statements = _POSTGRESQL if postgresql else _SQLITE
    params = {"at": to_micros(at), "limit": limit}
    found: dict[int, int] = {}
    if postgresql:
        conn.execute(_PLANNER)

    def read(name: str) -> list[Any]:
        rows = list(conn.execute(statements[name], params))
        found.update((int(item_id), int(due)) for due, item_id in rows)
        return rows

    if replies_only:
        read("stale replies")
        read("replies")
    else:
        read("stale")
        read("free")
        read("queued replies")
        heads = [int(item_id) for _, item_id in read("heads")]
        if postgresql and heads:
            # Another replica may be claiming one of them right now: keep those still claimable
            # that it has not locked.
            for item_id in heads:
                del found[item_id]
            lock = (
                sa.select(items.c.next_attempt_at, items.c.id)
                .where(
                    items.c.id.in_(heads),
                    sa.or_(
                        sa.and_(items.c.status == "pending", items.c.next_attempt_at <= at),
                        sa.and_(items.c.status == "sending", items.c.lease_until <= at),
                    ),
                )
                .with_for_update(skip_locked=True)
            )
            found.update((int(item_id), to_micros(due)) for due, item_id in conn.execute(lock))
    return [item_id for _, item_id in sorted((due, item_id) for item_id, due in found.items())[:limit]]

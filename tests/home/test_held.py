"""The admins' File and Drop buttons on what the flood limits held: only an admin's press acts;
File hands each item to its feature and takes it out of the held ones, Drop deletes them; the
presser's Home is published again either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.delivery.outbox import Outbox
from bot.floods import FloodLimits, FloodStore, HeldItem, Limit, Scope
from bot.home.held import HeldActions
from bot.slack.admins import WorkspaceAdmins
from bot.slack.lookups import SlackLookups
from tests.databases import database_url, outbox_at

ADMIN = "U0ADMIN001"
LIMITS = FloodLimits(automatic=Limit(1, 0), followups=Limit(1, 0))


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = outbox_at(database_url("sqlite", tmp_path))
    yield box
    box.close()


def held_store(outbox: Outbox) -> FloodStore:
    store = FloodStore(outbox.database, LIMITS)
    for ts in ("1.1", "1.2", "1.3"):
        store.admit(Scope.AUTOMATIC, "C1", ts, "U1", {"ts": ts})
    for ts in ("2.1", "2.2"):
        store.admit(Scope.FOLLOWUP, "C1", ts, "U1", {"ts": ts})
    return store


def actions(
    store: FloodStore, filed: list[HeldItem], published: list[str], *, works: bool = True
) -> HeldActions:
    # Nobody answers on port 9: anyone not named in FEEDBACK_ADMINS is not an admin (fail closed).
    # No retry after the refused connection (slack_sdk's waits a second): it changes nothing here.
    web = WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/", timeout=1, retry_handlers=[])
    lookups = SlackLookups(web)
    admins = WorkspaceAdmins(lookups, [ADMIN], "T0ACME0001")

    def filer(item: HeldItem) -> str | None:
        filed.append(item)
        return None if works else "its thread is no longer followed"

    return HeldActions(store, admins, {Scope.AUTOMATIC: filer, Scope.FOLLOWUP: filer}, published.append)


def test_file_hands_each_held_item_to_its_feature_in_order_and_republishes(outbox: Outbox) -> None:
    store = held_store(outbox)
    filed: list[HeldItem] = []
    published: list[str] = []
    assert actions(store, filed, published).file(ADMIN, "automatic:C1") == 2
    assert [item.ts for item in filed] == ["1.2", "1.3"]
    assert published == [ADMIN]
    assert [g.scope for g in store.held_groups()] == [Scope.FOLLOWUP]


def test_drop_deletes_without_filing(outbox: Outbox) -> None:
    store = held_store(outbox)
    filed: list[HeldItem] = []
    published: list[str] = []
    assert actions(store, filed, published).drop(ADMIN, "followup:C1") == 1
    assert filed == []
    assert published == [ADMIN]
    assert store.held_in(Scope.FOLLOWUP, "C1") == []


def test_someone_not_an_admin_or_a_button_not_ours_does_nothing(outbox: Outbox) -> None:
    store = held_store(outbox)
    filed: list[HeldItem] = []
    published: list[str] = []
    held = actions(store, filed, published)
    assert held.drop("U0SOMEONE1", "automatic:C1") == 0
    assert held.drop(ADMIN, "elsewhere:C1") == 0
    assert held.file(ADMIN, "nonsense") == 0
    assert store.held_count() == 3
    assert published == []


def test_what_file_could_not_send_stays_held_with_why_and_is_not_counted(outbox: Outbox) -> None:
    """A reply whose thread is no longer followed: File does not delete it unsent."""
    store = held_store(outbox)
    filed: list[HeldItem] = []
    published: list[str] = []
    assert actions(store, filed, published, works=False).file(ADMIN, "followup:C1") == 0
    assert [item.ts for item in filed] == ["2.2"]
    assert [item.ts for item in store.held_in(Scope.FOLLOWUP, "C1")] == ["2.2"]
    (group,) = [g for g in store.held_groups() if g.scope is Scope.FOLLOWUP]
    assert group.not_filed == 1
    assert group.not_filed_reason == "its thread is no longer followed"
    assert published == [ADMIN]
    # Drop still deletes it, for good.
    assert actions(store, filed, published).drop(ADMIN, "followup:C1") == 1
    assert store.held_in(Scope.FOLLOWUP, "C1") == []

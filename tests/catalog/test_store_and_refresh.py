"""The catalog in the database and its refresh: one process per list at a time (a lease), only the
differences written, every page read inside one read budget shared by all replicas; what the key
may not read is unavailable, and a failed refresh keeps the last good list. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.budgets.write_limits import WriteLimits
from bot.catalog import Catalog, Entry, Kind
from bot.catalog.refresh import ReadBudget, Refresher, RefreshSettings
from bot.catalog.store import CatalogStore
from bot.delivery.outbox import Outbox
from bot.productlane import ProductlaneClient, ReadRetries
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_catalog import CATALOG_SCOPES
from tests.running_bot import wait_until

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(url: str, clock: Clock) -> Iterator[Outbox]:
    box = outbox_at(url, clock=clock)
    yield box
    box.close()


@pytest.fixture
def store(outbox: Outbox) -> CatalogStore:
    return CatalogStore(outbox.database)


# --- the store ----------------------------------------------------------------------------------


def test_each_due_list_is_leased_to_one_claimer_until_its_lease_runs_out(
    store: CatalogStore, clock: Clock
) -> None:
    claimed = [store.claim(f"owner-{n}", 60) for n in range(6)]
    assert sorted(kind.value for kind in claimed if kind) == sorted(kind.value for kind in Kind)
    assert claimed[5] is None  # five lists, five leases
    clock.now += timedelta(seconds=61)
    again = store.claim("owner-late", 60)
    assert again is not None  # a lease that ran out: its process died


def test_saving_writes_the_differences_and_moves_the_version_only_on_a_change(store: CatalogStore) -> None:
    kind = store.claim("me", 60, only=[Kind.TAGS])
    assert kind is Kind.TAGS
    saved = store.save(Kind.TAGS, "me", [Entry("t1", "export"), Entry("t2", "sso")], T0)
    assert saved == (1, True)
    assert store.load(Kind.TAGS) == (1, [Entry("t1", "export"), Entry("t2", "sso")])

    assert store.claim("me", 60, only=[Kind.TAGS]) is Kind.TAGS
    assert store.save(Kind.TAGS, "me", [Entry("t2", "sso"), Entry("t1", "export")], T0) == (1, False)

    assert store.claim("me", 60, only=[Kind.TAGS]) is Kind.TAGS
    assert store.save(Kind.TAGS, "me", [Entry("t1", "Export"), Entry("t3", "billing")], T0) == (2, True)
    version, entries = store.load(Kind.TAGS)
    assert version == 2
    assert sorted(entries, key=lambda e: e.id) == [Entry("t1", "Export"), Entry("t3", "billing")]
    assert store.states()[Kind.TAGS].count == 2


def test_a_lost_lease_writes_nothing(store: CatalogStore, clock: Clock) -> None:
    assert store.claim("slow", 10, only=[Kind.TAGS]) is Kind.TAGS
    clock.now += timedelta(seconds=11)
    assert store.claim("fast", 10, only=[Kind.TAGS]) is Kind.TAGS
    assert store.save(Kind.TAGS, "slow", [Entry("t1", "stale")], T0) is None
    assert store.save(Kind.TAGS, "fast", [Entry("t1", "fresh")], T0) is not None
    assert store.load(Kind.TAGS)[1] == [Entry("t1", "fresh")]


def test_unavailable_drops_the_list_and_failed_keeps_it(store: CatalogStore, clock: Clock) -> None:
    for kind in (Kind.TAGS, Kind.MEMBERS):
        assert store.claim("me", 60, only=[kind]) is kind
        store.save(kind, "me", [Entry("x", "kept")], T0)
    assert store.claim("me", 60, only=[Kind.TAGS]) is Kind.TAGS
    assert store.give_up(Kind.TAGS, "me", "failed", "the last refresh failed (internal_error)", T0)
    assert store.states()[Kind.TAGS].status == "ok"
    assert store.load(Kind.TAGS)[1] == [Entry("x", "kept")]
    assert store.claim("me", 60, only=[Kind.MEMBERS]) is Kind.MEMBERS
    assert store.give_up(Kind.MEMBERS, "me", "unavailable", "the key lacks admin", T0 + timedelta(hours=1))
    state = store.states()[Kind.MEMBERS]
    assert (state.status, state.detail, state.count) == ("unavailable", "the key lacks admin", 0)
    assert store.load(Kind.MEMBERS)[1] == []
    # A new process tries an unavailable list again at once (its key may be a new one).
    assert store.claim("me", 60, only=[Kind.MEMBERS]) is None
    store.recheck()
    assert store.claim("me", 60, only=[Kind.MEMBERS]) is Kind.MEMBERS


# --- the refresh --------------------------------------------------------------------------------


def refresher(
    store: CatalogStore, client: ProductlaneClient, owner: str, read_slot: object = lambda: 0.0
) -> tuple[Refresher, dict[Kind, list[Entry]]]:
    saved: dict[Kind, list[Entry]] = {}
    return (
        Refresher(
            store,
            client,
            RefreshSettings(owner=owner, interval=300),
            ReadBudget(slot=read_slot, pause=lambda seconds: None),  # type: ignore[arg-type]
            saved=lambda kind, version, entries: saved.__setitem__(kind, entries),
            stopping=threading.Event(),
        ),
        saved,
    )


@pytest.fixture
def productlane() -> Iterator[FakeProductlane]:
    with FakeProductlane(scopes=("threads:write", *CATALOG_SCOPES)) as fake:
        yield fake


@pytest.fixture
def client(productlane: FakeProductlane) -> Iterator[ProductlaneClient]:
    with ProductlaneClient(
        productlane.api_key, productlane.url, retries=ReadRetries(sleep=lambda s: None)
    ) as c:
        yield c


def test_every_list_is_read_page_by_page(
    store: CatalogStore, client: ProductlaneClient, productlane: FakeProductlane
) -> None:
    for n in range(250):
        productlane.catalog.add_company(f"Company {n}", (f"c{n}.example",))
    productlane.catalog.add_tag("export")
    reads: list[int] = []

    def slot() -> float:
        reads.append(1)
        return 0.0

    worker, saved = refresher(store, client, "me", read_slot=slot)
    assert worker.refresh_due() == 5
    assert len(saved[Kind.COMPANIES]) == 250
    assert productlane.catalog.list_reads["companies"] == 3  # 100 a page
    assert len(reads) == sum(productlane.catalog.list_reads.values())  # a budget slot per read
    assert [e.name for e in saved[Kind.TAGS]] == ["export"]
    assert saved[Kind.MEMBERS] == []  # readable, and empty
    assert store.states()[Kind.MEMBERS].status == "ok"


def test_two_replicas_never_read_the_same_list_twice(
    url: str, clock: Clock, productlane: FakeProductlane, client: ProductlaneClient
) -> None:
    for n in range(120):
        productlane.seed_issue(f"Issue {n}")
    productlane.delay(0.05, method="GET")  # both are reading at the same time
    boxes = [outbox_at(url, clock=clock) for _ in range(2)]
    try:
        workers = [
            refresher(CatalogStore(box.database), client, f"replica-{n}")[0] for n, box in enumerate(boxes)
        ]
        threads = [threading.Thread(target=worker.refresh_due) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert productlane.catalog.list_reads == {
            "companies": 1,
            "projects": 1,
            "issues": 2,
            "tags": 1,
            "members": 1,
        }
    finally:
        for box in boxes:
            box.close()


def test_the_read_budget_is_one_bucket_for_every_replica(
    url: str, productlane: FakeProductlane, client: ProductlaneClient
) -> None:
    for n in range(300):
        productlane.catalog.add_company(f"Company {n}")
    boxes = [outbox_at(url) for _ in range(2)]
    try:
        workers = []
        for n, box in enumerate(boxes):
            limits = WriteLimits(box.database)

            def slot(limits: WriteLimits = limits) -> float:
                # 1,200 a minute here (the bot's is 200) keeps the test short: one read every 0.05 s.
                return limits.reserve_write_slot("test:catalog-reads", rate_per_minute=1200, burst=1)

            workers.append(refresher(CatalogStore(box.database), client, f"replica-{n}", slot)[0])
        started = time.monotonic()
        threads = [threading.Thread(target=worker.refresh_due) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - started
        reads = sorted(r.time for r in productlane.requests if r.method == "GET")
        assert len(reads) == 7  # companies in 3 pages, the other four lists in one each
        # Seven reads at one per 0.05 s, whichever replica made them: six intervals. A budget per
        # replica would have let each make its share side by side: three or four reads, 0.15 s.
        assert elapsed >= 0.275
        assert reads[-1] - reads[0] >= 0.2  # arrival times: a loaded machine delays the first a little
    finally:
        for box in boxes:
            box.close()


def test_a_list_the_key_may_not_read_is_unavailable_with_the_scope_it_needs(
    store: CatalogStore, client: ProductlaneClient, productlane: FakeProductlane
) -> None:
    productlane.set_scopes(["threads:write", "companies:read"])
    worker, saved = refresher(store, client, "me")
    worker.refresh_due()
    states = store.states()
    assert states[Kind.COMPANIES].status == "ok"
    assert states[Kind.MEMBERS].status == "unavailable"
    assert states[Kind.MEMBERS].detail == "the key lacks admin"
    assert states[Kind.TAGS].detail == "the key lacks tags:read"
    assert set(saved) == {Kind.COMPANIES}


def test_a_failed_refresh_keeps_the_last_good_list_and_tries_again_soon(
    store: CatalogStore, client: ProductlaneClient, productlane: FakeProductlane, clock: Clock
) -> None:
    for n in range(150):
        productlane.catalog.add_tag(f"tag {n}")
    worker, _ = refresher(store, client, "me")
    worker.refresh_due()
    assert store.states()[Kind.TAGS].count == 150
    clock.now += timedelta(seconds=301)
    productlane.catalog.add_tag("one more")
    # Productlane fails: nothing is saved (half a list would look like deletions), the old list stays.
    productlane.fail_next(500, n=10, method="GET", path="/tags")
    assert store.claim("me", 60, only=[Kind.TAGS]) is Kind.TAGS
    worker.refresh(Kind.TAGS)
    state = store.states()[Kind.TAGS]
    assert (state.status, state.count) == ("ok", 150)
    assert state.detail == "the last refresh failed (internal_error)"
    assert state.next_refresh_at == clock.now + timedelta(seconds=60)


def test_a_list_that_takes_no_page_size_is_read_with_its_own(
    store: CatalogStore, client: ProductlaneClient, productlane: FakeProductlane
) -> None:
    productlane.catalog.add_tag("export")
    productlane.fail_next(
        400, method="GET", path="/tags", details=[{"path": "limit", "message": "Unrecognized"}]
    )
    assert store.claim("me", 60, only=[Kind.TAGS]) is Kind.TAGS
    worker, saved = refresher(store, client, "me")
    worker.refresh(Kind.TAGS)
    assert [e.name for e in saved[Kind.TAGS]] == ["export"]
    assert "limit" not in productlane.requests_to("GET", "/tags")[-1].query


def test_answers_in_other_list_shapes_are_read_too(
    store: CatalogStore, client: ProductlaneClient, productlane: FakeProductlane
) -> None:
    productlane.catalog.add_tag("export")
    productlane.catalog.add_member("Dana", "dana@acme.example")
    productlane.catalog.answer_shape["tags"] = lambda body: body["data"]  # a bare list
    productlane.catalog.answer_shape["members"] = lambda body: {"data": {"items": body["data"]}}
    worker, saved = refresher(store, client, "me")
    worker.refresh_due()
    assert [e.name for e in saved[Kind.TAGS]] == ["export"]
    assert [e.name for e in saved[Kind.MEMBERS]] == ["Dana"]


def test_a_list_the_key_could_not_read_is_asked_again_once_someone_files_feedback(
    outbox: Outbox, store: CatalogStore, client: ProductlaneClient, productlane: FakeProductlane, clock: Clock
) -> None:
    productlane.set_scopes(["threads:write"])
    refresher(store, client, "first process")[0].refresh_due()
    assert store.states()[Kind.TAGS].status == "unavailable"
    productlane.set_scopes(["threads:write", "tags:read"])  # a new key, with a scope more
    productlane.catalog.add_tag("export")
    reads = len(productlane.requests)

    catalog = Catalog(
        store, lambda stopping, saved: refresher(store, client, "second process")[0], reload_seconds=0
    )
    catalog.start()
    catalog.tick()
    # Until a refresh that tick started, if any, has ended: what it would ask, it has asked.
    wait_until(lambda: catalog._thread is None or not catalog._thread.is_alive(), "no refresh under way")
    # An idle bot does not ask Productlane again (nor load its HTTP client for it)…
    assert len(productlane.requests) == reads
    # …the first modal does, once.
    catalog.wanted()
    catalog.tick()
    wait_until(lambda: store.states()[Kind.TAGS].status == "ok", "the tags to be read")
    catalog.stop()
    assert catalog.refresh_now() == 0
    catalog.reload()
    assert catalog.available(Kind.TAGS)
    assert not catalog.available(Kind.MEMBERS)

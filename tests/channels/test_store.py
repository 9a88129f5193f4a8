"""Channel settings in the database (SQLite and PostgreSQL): merges, the version every replica reads,
the cache that reloads only when it moved, deleted messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.cache import ChannelSettingsCache
from bot.channels.model import Capture, ChannelSettings, Confirm
from bot.channels.store import ChannelSettingsStore
from bot.delivery.outbox import Outbox
from bot.message_events import Interest
from bot.productlane.models import PainLevel
from tests.backends import BACKENDS
from tests.databases import database_url, outbox_at


@pytest.fixture(params=BACKENDS)
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    with outbox_at(database_url(request.param, tmp_path)) as opened:
        yield opened


def test_an_edit_merges_into_a_channels_settings_and_null_puts_a_key_back(outbox: Outbox) -> None:
    store = ChannelSettingsStore(outbox.database)
    first = store.apply(
        [("C0AAAAAAA1", {"capture": "automatic", "company_id": "cmp_1", "tag_ids": ["tag_1"]})],
        by="U0ADMIN001",
    )
    assert first[0].before is None
    assert first[0].changed
    store.apply([("C0AAAAAAA1", {"confirm": "reaction", "pain_level": "HIGH"})], by="cli")
    assert store.get("C0AAAAAAA1") == ChannelSettings(
        channel="C0AAAAAAA1",
        company_id="cmp_1",
        pain_level=PainLevel.HIGH,
        tag_ids=("tag_1",),
        capture=Capture.AUTOMATIC,
        confirm=Confirm.REACTION,
    )
    who, when = store.changed_by("C0AAAAAAA1") or (None, None)
    assert who == "cli"
    assert when is not None
    store.apply([("C0AAAAAAA1", {"company_id": None, "tag_ids": []})], by="cli")
    assert store.get("C0AAAAAAA1") == ChannelSettings(
        channel="C0AAAAAAA1", pain_level=PainLevel.HIGH, capture=Capture.AUTOMATIC, confirm=Confirm.REACTION
    )


def test_back_to_the_defaults_a_channel_has_no_settings_and_every_change_moves_the_version(
    outbox: Outbox,
) -> None:
    store = ChannelSettingsStore(outbox.database)
    start = store.version()
    store.apply([("C0AAAAAAA1", {"capture": "shortcut"}), ("C0BBBBBBB2", {"followups": False})], by="cli")
    assert store.version() == start + 1
    unchanged = store.apply([("C0AAAAAAA1", {"capture": "shortcut"})], by="cli")
    assert not unchanged[0].changed
    assert store.version() == start + 1  # nothing changed: every replica keeps its copy
    store.apply([("C0AAAAAAA1", {"capture": None})], by="cli")
    assert store.version() == start + 2
    assert store.get("C0AAAAAAA1") is None
    assert [channel.channel for channel in store.load().channels] == ["C0BBBBBBB2"]


def test_a_bad_value_writes_nothing_of_the_whole_batch(outbox: Outbox) -> None:
    store = ChannelSettingsStore(outbox.database)
    with pytest.raises(ValueError, match="capture"):
        store.apply(
            [("C0AAAAAAA1", {"capture": "automatic"}), ("C0BBBBBBB2", {"capture": "sometimes"})], by="cli"
        )
    assert store.load().channels == ()


def test_the_cache_reloads_only_when_the_version_moved_and_keeps_interest_current(outbox: Outbox) -> None:
    store = ChannelSettingsStore(outbox.database)
    interest = Interest()
    cache = ChannelSettingsCache(store, on_automatic=interest.set_automatic_channels)
    assert cache.for_channel("C0AAAAAAA1") is None
    assert not cache.refresh()

    # Another replica (another store on the same database) changes the settings.
    other = ChannelSettingsStore(outbox.database)
    other.apply([("C0AAAAAAA1", {"capture": "automatic"}), ("C0BBBBBBB2", {"confirm": "private"})], by="cli")
    assert cache.refresh()
    assert interest.automatic_channels() == frozenset({"C0AAAAAAA1"})
    assert cache.for_channel("C0BBBBBBB2") == ChannelSettings(channel="C0BBBBBBB2", confirm=Confirm.PRIVATE)
    assert not cache.refresh()

    other.apply([("C0AAAAAAA1", {"capture": None})], by="cli")
    assert cache.refresh()
    assert interest.automatic_channels() == frozenset()
    assert [channel.channel for channel in cache.all()] == ["C0BBBBBBB2"]


def test_the_cache_keeps_its_copy_while_the_database_fails(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    store = ChannelSettingsStore(outbox.database)
    store.apply([("C0AAAAAAA1", {"capture": "automatic"})], by="cli")
    cache = ChannelSettingsCache(store, every_seconds=0)

    def broken() -> int:
        raise RuntimeError("the database is down")

    store.version = broken  # type: ignore[method-assign]
    cache.tick()
    cache.tick()
    assert cache.for_channel("C0AAAAAAA1") is not None
    assert "reading the channel settings failed" in caplog.text


def test_a_deleted_message_is_remembered_for_a_week(outbox: Outbox) -> None:
    store = ChannelSettingsStore(outbox.database)
    long_ago = datetime.now(UTC) - timedelta(days=8)
    store.mark_deleted("C0AAAAAAA1", "1764300000.000100", now=long_ago)
    store.mark_deleted("C0AAAAAAA1", "1764300000.000200")
    store.mark_deleted("C0AAAAAAA1", "1764300000.000200")  # Slack saying it twice
    assert store.was_deleted("C0AAAAAAA1", "1764300000.000200")
    assert not store.was_deleted("C0AAAAAAA1", "1764300000.000100")  # forgotten
    assert not store.was_deleted("C0AAAAAAA1", "1764300000.000300")

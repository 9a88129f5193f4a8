"""What the process counts for /metrics: counters and histograms by label values, and label values
that can never carry text, ids or secrets."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.delivery.health import DeliveryHealth, PausedDelivery
from bot.delivery.outbox import Status
from bot.metrics.tally import Registry, label_value
from bot.web.exposition import Exposition

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_only_short_tokens_become_label_values() -> None:
    for fine in ("200", "429", "POST", "chat.postMessage", "channel_not_found", "network"):
        assert label_value(fine) == fine
    for unsafe in ("Export to CSV times out", "jane@customer.example", "x" * 65, "a\nb", "", "<@U1>", "a b"):
        assert label_value(unsafe) == "other"


def test_counters_add_up_across_threads_and_histograms_fill_cumulative_buckets() -> None:
    tallies = Registry()
    counter = tallies.counter("things", "doc", ("kind",)).zero(("idle",))
    histogram = tallies.histogram("seconds", "doc", ("kind",), (1.0, 5.0))

    def work() -> None:
        for _ in range(1000):
            counter.inc("busy")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.samples() == [(("busy",), 4000.0), (("idle",), 0.0)]
    for value in (0.5, 1.0, 3.0, 60.0):
        histogram.observe(value, "a")
    [(labels, buckets, total)] = histogram.samples()
    assert labels == ("a",)
    assert buckets == [("1.0", 2), ("5.0", 3), ("+Inf", 4)], "a value on a bound counts in it"
    assert total == 64.5
    with pytest.raises(ValueError, match="label"):
        counter.inc()


def test_the_exposition_is_prometheus_text_with_the_outbox_gauges() -> None:
    tallies = Registry()
    tallies.counter("productlane_slack_things", "Things.", ("kind",)).inc("a")
    health = DeliveryHealth(
        {Status.PENDING: 2, Status.FAILED: 1}, NOW - timedelta(seconds=90), PausedDelivery("x", "y", NOW), NOW
    )
    body, content_type = Exposition(lambda: health, tallies).render(None)
    assert content_type.startswith("text/plain; version=0.0.4")
    found = {
        (sample.name, tuple(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert found[("productlane_slack_things_total", (("kind", "a"),))] == 1
    assert found[("productlane_slack_outbox_items", (("state", "pending"),))] == 2
    assert found[("productlane_slack_outbox_items", (("state", "superseded"),))] == 0
    assert found[("productlane_slack_outbox_oldest_waiting_seconds", ())] == 90
    assert found[("productlane_slack_delivery_paused", ())] == 1
    assert found[("productlane_slack_outbox_readable", ())] == 1


def test_an_outbox_that_cannot_be_read_still_lets_the_counters_out() -> None:
    def broken() -> DeliveryHealth:
        raise OSError("database away")

    body = Exposition(broken).render(None)[0].decode()
    assert "productlane_slack_outbox_readable 0.0" in body
    assert "productlane_slack_outbox_items" not in body
    assert 'productlane_slack_deliveries_total{outcome="refused"}' in body


def test_a_webhook_answer_is_counted_by_what_became_of_it() -> None:
    before = dict(metrics.WEBHOOKS.samples())
    for answer in (
        (200, {"ok": True, "duplicate": False}),
        (200, {"ok": True, "duplicate": True}),
        (200, {"ok": True, "ignored": True}),
        (401, {"ok": False}),
        (413, {"ok": False}),
        (503, {"ok": False}),
    ):
        metrics.webhook_answered(*answer)
    after = dict(metrics.WEBHOOKS.samples())
    grew = {labels[0]: after[labels] - before.get(labels, 0) for labels in after}
    assert grew == {"received": 1, "duplicate": 1, "ignored": 1, "refused": 2, "unavailable": 1}

"""The tallies and the outbox's health in Prometheus' formats, made by the `prometheus-client` library
(text 0.0.4, or OpenMetrics when the scraper asks for it). Imported on the first scrape only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from bot.delivery.health import DeliveryHealth
from bot.delivery.outbox import Status
from bot.metrics import PREFIX
from bot.metrics.tally import REGISTRY, Registry

__all__ = ["Exposition"]

log = logging.getLogger(__name__)


class _TallyCollector(Collector):
    """The process's counters and histograms, and the outbox's state as the shared database says."""

    def __init__(self, tallies: Registry, health: Callable[[], DeliveryHealth]) -> None:
        self._tallies = tallies
        self._health = health

    def collect(self) -> Iterator[Metric]:
        yield from self._outbox()
        for counter in self._tallies.counters:
            family = CounterMetricFamily(counter.name, counter.documentation, labels=counter.labelnames)
            for labels, value in counter.samples():
                family.add_metric(labels, value)
            yield family
        for histogram in self._tallies.histograms:
            buckets = HistogramMetricFamily(
                histogram.name, histogram.documentation, labels=histogram.labelnames
            )
            for labels, cumulative, total in histogram.samples():
                buckets.add_metric(labels, [(le, float(count)) for le, count in cumulative], total)
            yield buckets

    def _outbox(self) -> Iterator[Metric]:
        readable = GaugeMetricFamily(
            PREFIX + "outbox_readable",
            "1 when the outbox gauges below were read from the database at this scrape (or within the "
            "last 5 s), 0 when it could not be read.",
        )
        try:
            health = self._health()
        except Exception as error:
            log.warning("/metrics: the outbox could not be read (%s)", type(error).__name__)
            readable.add_metric([], 0.0)
            yield readable
            return
        readable.add_metric([], 1.0)
        yield readable
        states = GaugeMetricFamily(
            PREFIX + "outbox_items",
            "Outbox items by state (pending, sending, delivered, failed, superseded), across all "
            "replicas: read from the shared database.",
            labels=("state",),
        )
        for status in Status:
            states.add_metric([status.value], float(health.counts.get(status, 0)))
        yield states
        yield GaugeMetricFamily(
            PREFIX + "outbox_oldest_waiting_seconds",
            "Age of the oldest submission not yet delivered (pending or sending); 0 when none waits.",
            value=health.oldest_waiting_seconds(),
        )
        yield GaugeMetricFamily(
            PREFIX + "delivery_paused",
            "1 while delivery is paused on every replica because Productlane refuses the API key.",
            value=1.0 if health.paused is not None else 0.0,
        )


class Exposition:
    """One registry: the tallies, the outbox's health and the process's own (memory, CPU, files)."""

    def __init__(self, health: Callable[[], DeliveryHealth], tallies: Registry = REGISTRY) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_TallyCollector(tallies, health))
        self._registry.register(ProcessCollector(registry=None))

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The body and its content type, in the format the scraper's Accept header prefers."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self._registry), content_type

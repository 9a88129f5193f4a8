"""Counts kept in the process until a scrape reads them: counters and histograms by label values.

Plain Python, so counting costs a lock and a dict update and importing this costs nothing: the
`prometheus-client` library (about 85 ms to import and 0.5 MB, measured) is loaded only when
`/metrics` is first scraped, and turns these into Prometheus' format then (`bot.web.exposition`).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["REGISTRY", "CounterTally", "HistogramTally", "label_value"]

_SAFE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def label_value(value: object) -> str:
    """A label value that can never carry what it must not: only short tokens made of letters,
    digits and ``_.:-`` (status codes, method names, Slack's error codes) pass; anything else —
    text, a URL, an id with a space — becomes ``other``."""
    text = str(value)
    return text if _SAFE.fullmatch(text) else "other"


@dataclass
class CounterTally:
    name: str
    """Without the ``_total`` suffix Prometheus' format adds."""
    documentation: str
    labelnames: tuple[str, ...]
    _values: dict[tuple[str, ...], float] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def inc(self, *labels: object, amount: float = 1.0) -> None:
        key = tuple(label_value(label) for label in labels)
        if len(key) != len(self.labelnames):
            raise ValueError(f"{self.name} takes {len(self.labelnames)} label value(s)")
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def zero(self, *label_sets: Sequence[object]) -> CounterTally:
        """Start these label values at 0, so a scrape shows them before the first event (rates and
        alerts work from the start, as Prometheus recommends)."""
        for labels in label_sets:
            self.inc(*labels, amount=0.0)
        return self

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        with self._lock:
            return sorted(self._values.items())


@dataclass
class HistogramTally:
    name: str
    documentation: str
    labelnames: tuple[str, ...]
    buckets: tuple[float, ...]
    """Upper bounds, ascending; +Inf is implied."""
    _counts: dict[tuple[str, ...], list[int]] = field(default_factory=dict, init=False, repr=False)
    _sums: dict[tuple[str, ...], float] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def observe(self, value: float, *labels: object) -> None:
        key = tuple(label_value(label) for label in labels)
        if len(key) != len(self.labelnames):
            raise ValueError(f"{self.name} takes {len(self.labelnames)} label value(s)")
        # A value equal to a bound belongs in that bucket (Prometheus' "le").
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
            counts[index] += 1
            self._sums[key] = self._sums.get(key, 0.0) + value

    def samples(self) -> list[tuple[tuple[str, ...], list[tuple[str, int]], float]]:
        """Per label values: cumulative ``(le, count)`` pairs ending with ``+Inf``, and the sum."""
        bounds = [*(_bound(b) for b in self.buckets), "+Inf"]
        with self._lock:
            found = []
            for key, counts in sorted(self._counts.items()):
                running, cumulative = 0, []
                for bound, count in zip(bounds, counts, strict=True):
                    running += count
                    cumulative.append((bound, running))
                found.append((key, cumulative, self._sums[key]))
            return found


def _bound(value: float) -> str:
    return repr(float(value))


@dataclass
class Registry:
    """Every tally of the process, in the order they were made."""

    counters: list[CounterTally] = field(default_factory=list)
    histograms: list[HistogramTally] = field(default_factory=list)

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> CounterTally:
        tally = CounterTally(name, documentation, tuple(labelnames))
        self.counters.append(tally)
        return tally

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> HistogramTally:
        tally = HistogramTally(name, documentation, tuple(labelnames), tuple(sorted(buckets)))
        self.histograms.append(tally)
        return tally


REGISTRY = Registry()

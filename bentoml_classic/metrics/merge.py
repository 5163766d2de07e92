"""One exposition from several: this deployment's figures and those of runner servers that
were started on their own (``start_runner_server``), which write to a directory of their own.

The Prometheus text format allows a family once per scrape, and both sides may have the same
families (a user's metric defined in the service module exists in every process that imports
it). So families are merged by name, and samples with the same name and labels are added up,
as the multiprocess collector adds up processes: right for counters, histograms, summaries
and ``sum``/``livesum`` gauges. A ``_created`` sample (single-process mode only) keeps the
earliest time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .registry import prometheus


class _Families:
    """A collector that hands prometheus_client's renderer families made elsewhere."""

    def __init__(self, families: Iterable[Any]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Any]:
        return iter(self._families)


def merged_exposition(local: bytes, others: Sequence[str]) -> bytes:
    """``local`` (this deployment's text) with ``others`` merged in, as one exposition."""
    if not others:
        return local
    from prometheus_client.metrics_core import Metric
    from prometheus_client.parser import text_string_to_metric_families

    merged: dict[str, Any] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in (local.decode(), *others):
        for family in text_string_to_metric_families(text):
            if family.name not in merged:
                merged[family.name] = Metric(family.name, family.documentation, family.type)
                values[family.name] = {}
            samples = values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key not in samples:
                    samples[key] = sample.value
                elif sample.name.endswith("_created"):
                    samples[key] = min(samples[key], sample.value)
                else:
                    samples[key] += sample.value
    for name, family in merged.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    client = prometheus()
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(_Families(merged.values()))
    return bytes(client.generate_latest(registry))

"""``merged_exposition``: this deployment's text and a runner server's, as one scrape a
Prometheus server accepts: each family once, the same series added up, the others kept."""

from __future__ import annotations

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from bentoml_classic.metrics.merge import merged_exposition
from tests.support.metrics import parse, value


def text_of(requests: dict[str, float], rows: list[float], extra: bool = False) -> bytes:
    """One side's exposition, written by prometheus_client as a deployment's would be."""
    registry = prometheus_client.CollectorRegistry()
    total = prometheus_client.Counter("merge_requests", "Requests", ["endpoint"], registry=registry)
    for endpoint, count in requests.items():
        total.labels(endpoint).inc(count)
    sizes = prometheus_client.Histogram("merge_sizes", "Sizes", buckets=(1, 4), registry=registry)
    for amount in rows:
        sizes.observe(amount)
    if extra:
        prometheus_client.Gauge("merge_only_here", "Elsewhere only", registry=registry).set(9)
    return prometheus_client.generate_latest(registry)


def test_without_others_the_local_text_is_returned_as_it_is() -> None:
    local = text_of({"/a": 1}, [1])
    assert merged_exposition(local, []) is local


def test_families_are_merged_and_equal_series_added_up() -> None:
    local = text_of({"/a": 2, "/b": 1}, [1, 3])
    other = text_of({"/a": 5, "/c": 4}, [3, 9], extra=True).decode()
    merged = merged_exposition(local, [other]).decode()
    names = [family.name for family in text_string_to_metric_families(merged)]
    assert len(names) == len(set(names))  # each family once: a scraper refuses repeats
    samples = parse(merged)
    assert value(samples, "merge_requests_total", endpoint="/a") == 7
    assert value(samples, "merge_requests_total", endpoint="/b") == 1
    assert value(samples, "merge_requests_total", endpoint="/c") == 4
    assert value(samples, "merge_sizes_count") == 4
    assert value(samples, "merge_sizes_sum") == 16
    assert value(samples, "merge_sizes_bucket", le="1.0") == 1
    assert value(samples, "merge_sizes_bucket", le="4.0") == 3
    assert value(samples, "merge_sizes_bucket", le="+Inf") == 4
    assert value(samples, "merge_only_here") == 9
    created = [s for s in samples if s[0] == "merge_requests_created" and s[1]["endpoint"] == "/a"]
    assert len(created) == 1  # a time, not a count: the earliest is kept

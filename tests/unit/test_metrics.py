"""``metrics``: the batch-size histogram and its Prometheus text rendering.

Covers bucket placement (a value equal to a bound counts in that bound's bucket; a value above
every bound counts only in +Inf), snapshots and their round trip, the per-runner-method registry,
and the exact exposition lines: cumulative ``_bucket`` counts, ``le="+Inf"``, ``_sum``,
``_count`` and label escaping of backslashes, quotes and newlines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bentoml_classic import metrics
from bentoml_classic.metrics import (
    BATCH_SIZE,
    BATCH_SIZE_BUCKETS,
    BATCH_SIZE_HELP,
    Histogram,
    batch_size_histogram,
    batch_size_snapshot,
    render_histograms,
)


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(metrics, "_batch_sizes", {})
    yield


# --- Histogram -------------------------------------------------------------------------------


def test_a_new_histogram_is_empty() -> None:
    histogram = Histogram()
    assert histogram.buckets == BATCH_SIZE_BUCKETS
    assert histogram.counts == [0] * (len(BATCH_SIZE_BUCKETS) + 1)
    assert histogram.total == 0
    assert histogram.count == 0


def test_histograms_do_not_share_counts() -> None:
    first, second = Histogram(), Histogram()
    first.observe(1)
    assert second.counts == [0] * (len(BATCH_SIZE_BUCKETS) + 1)


@pytest.mark.parametrize(
    ("value", "bucket"),
    [(0, 0), (0.5, 0), (1, 0), (1.5, 1), (2, 1), (3, 2), (4, 2), (4.01, 3), (100, 3)],
)
def test_observe_places_values_in_the_first_bucket_that_holds_them(
    value: float, bucket: int
) -> None:
    histogram = Histogram(buckets=(1, 2, 4))
    histogram.observe(value)
    expected = [0, 0, 0, 0]
    expected[bucket] = 1
    assert histogram.counts == expected
    assert histogram.count == 1
    assert histogram.total == value


def test_observe_accumulates_sum_and_count() -> None:
    histogram = Histogram(buckets=(1, 2, 4))
    for value in (1, 1, 2, 3, 8, 9):
        histogram.observe(value)
    assert histogram.counts == [2, 1, 1, 2]
    assert histogram.count == 6
    assert histogram.total == 24


def test_default_buckets_cover_powers_of_two_up_to_1024() -> None:
    histogram = Histogram()
    for value in (1, 2, 64, 1024, 1025):
        histogram.observe(value)
    assert histogram.counts[0] == 1
    assert histogram.counts[1] == 1
    assert histogram.counts[BATCH_SIZE_BUCKETS.index(64)] == 1
    assert histogram.counts[BATCH_SIZE_BUCKETS.index(1024)] == 1
    assert histogram.counts[-1] == 1


def test_snapshot_round_trip() -> None:
    histogram = Histogram(buckets=(1, 2.5, 10))
    for value in (1, 2, 3, 50):
        histogram.observe(value)
    snapshot = histogram.snapshot()
    assert snapshot == {"buckets": [1, 2.5, 10], "counts": [1, 1, 1, 1], "total": 56.0, "count": 4}
    # a snapshot travels between processes as JSON-like data
    restored = Histogram.from_snapshot(json.loads(json.dumps(snapshot)))
    assert restored == histogram
    assert restored.buckets == (1.0, 2.5, 10.0)
    assert restored.counts == [1, 1, 1, 1]
    assert restored.total == 56.0
    assert restored.count == 4
    restored.observe(2)
    assert restored.counts == [1, 2, 1, 1]
    assert histogram.counts == [1, 1, 1, 1]  # the original is untouched


def test_snapshot_is_a_copy() -> None:
    histogram = Histogram(buckets=(1,))
    snapshot = histogram.snapshot()
    histogram.observe(1)
    assert snapshot["counts"] == [0, 0]
    assert snapshot["count"] == 0


# --- registry --------------------------------------------------------------------------------


def test_batch_size_histogram_is_one_per_runner_method() -> None:
    first = batch_size_histogram("iris", "predict")
    assert batch_size_histogram("iris", "predict") is first
    assert batch_size_histogram("iris", "predict_proba") is not first
    assert batch_size_histogram("other", "predict") is not first


def test_batch_size_snapshot_lists_every_histogram_sorted() -> None:
    batch_size_histogram("zeta", "predict").observe(3)
    batch_size_histogram("alpha", "run").observe(1)
    batch_size_histogram("alpha", "embed")
    snapshot = batch_size_snapshot()
    assert [(item["runner"], item["method"]) for item in snapshot] == [
        ("alpha", "embed"),
        ("alpha", "run"),
        ("zeta", "predict"),
    ]
    zeta = snapshot[2]
    assert zeta["count"] == 1
    assert zeta["total"] == 3
    assert zeta["buckets"] == list(BATCH_SIZE_BUCKETS)
    restored = Histogram.from_snapshot(zeta)
    assert restored == batch_size_histogram("zeta", "predict")


# --- Prometheus text -------------------------------------------------------------------------


def test_render_one_histogram_exactly() -> None:
    histogram = Histogram(buckets=(1, 2.5, 4))
    for value in (1, 2, 2, 3, 7):
        histogram.observe(value)
    text = render_histograms(
        "demo_size", "Rows per batch.", [({"runner": "iris", "method": "predict"}, histogram)]
    )
    labels = 'runner="iris",method="predict"'
    assert text.splitlines() == [
        "# HELP demo_size Rows per batch.",
        "# TYPE demo_size histogram",
        f'demo_size_bucket{{{labels},le="1"}} 1',
        f'demo_size_bucket{{{labels},le="2.5"}} 3',
        f'demo_size_bucket{{{labels},le="4"}} 4',
        f'demo_size_bucket{{{labels},le="+Inf"}} 5',
        f"demo_size_sum{{{labels}}} 15",
        f"demo_size_count{{{labels}}} 5",
    ]
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


def test_render_a_non_integral_sum() -> None:
    histogram = Histogram(buckets=(1,))
    histogram.observe(0.25)
    histogram.observe(2)
    text = render_histograms("m", "h", [({"a": "b"}, histogram)])
    assert 'm_sum{a="b"} 2.25' in text.splitlines()
    assert 'm_bucket{a="b",le="1"} 1' in text.splitlines()
    assert 'm_bucket{a="b",le="+Inf"} 2' in text.splitlines()


def test_render_an_empty_histogram() -> None:
    text = render_histograms("m", "h", [({"a": "b"}, Histogram(buckets=(1, 2)))])
    assert text.splitlines()[2:] == [
        'm_bucket{a="b",le="1"} 0',
        'm_bucket{a="b",le="2"} 0',
        'm_bucket{a="b",le="+Inf"} 0',
        'm_sum{a="b"} 0',
        'm_count{a="b"} 0',
    ]


def test_render_escapes_label_values() -> None:
    histogram = Histogram(buckets=(1,))
    histogram.observe(1)
    labels = {"runner": 'say "hi"', "method": "back\\slash\nnewline"}
    text = render_histograms("m", "h", [(labels, histogram)])
    escaped = r'runner="say \"hi\"",method="back\\slash\nnewline"'
    assert text.splitlines()[2:] == [
        f'm_bucket{{{escaped},le="1"}} 1',
        f'm_bucket{{{escaped},le="+Inf"}} 1',
        f"m_sum{{{escaped}}} 1",
        f"m_count{{{escaped}}} 1",
    ]
    # no raw newline escapes into the exposition: one line per sample
    assert len(text.splitlines()) == 6


def test_render_several_series_under_one_help_and_type() -> None:
    first, second = Histogram(buckets=(1,)), Histogram(buckets=(1,))
    first.observe(1)
    second.observe(5)
    second.observe(6)
    text = render_histograms(
        BATCH_SIZE, BATCH_SIZE_HELP, [({"runner": "a"}, first), ({"runner": "b"}, second)]
    )
    lines = text.splitlines()
    assert lines[0] == f"# HELP {BATCH_SIZE} {BATCH_SIZE_HELP}"
    assert lines[1] == f"# TYPE {BATCH_SIZE} histogram"
    assert sum(line.startswith("# ") for line in lines) == 2
    assert lines[2:] == [
        f'{BATCH_SIZE}_bucket{{runner="a",le="1"}} 1',
        f'{BATCH_SIZE}_bucket{{runner="a",le="+Inf"}} 1',
        f'{BATCH_SIZE}_sum{{runner="a"}} 1',
        f'{BATCH_SIZE}_count{{runner="a"}} 1',
        f'{BATCH_SIZE}_bucket{{runner="b",le="1"}} 0',
        f'{BATCH_SIZE}_bucket{{runner="b",le="+Inf"}} 2',
        f'{BATCH_SIZE}_sum{{runner="b"}} 11',
        f'{BATCH_SIZE}_count{{runner="b"}} 2',
    ]


def test_render_without_series_is_just_the_header() -> None:
    assert render_histograms("m", "help text", []) == "# HELP m help text\n# TYPE m histogram\n"

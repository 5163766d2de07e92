"""Reading Prometheus text the way a scraper does, and a batch-size recorder for the batchers.

Values are looked up by sample name and a subset of labels, summed over the series that
match: a test asks for "requests to /classify that got 200" without spelling out every label.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client.parser import text_string_to_metric_families

Samples = list[tuple[str, dict[str, str], float]]


def parse(text: str) -> Samples:
    """Every sample of an exposition, parsed by prometheus_client's own parser (which refuses
    text a scraper would refuse)."""
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def families(text: str) -> dict[str, str]:
    """Family name -> type (counter, gauge, histogram, summary)."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none does)."""
    return sum(
        number
        for sample, sample_labels, number in samples
        if sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


def series(samples: Samples, name: str, **labels: str) -> list[dict[str, str]]:
    """The label sets of ``name``'s samples that include ``labels``."""
    return [
        sample_labels
        for sample, sample_labels, _ in samples
        if sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
    ]


class Recorder:
    """An observer for the batchers' ``histogram=``: keeps counts per bucket, count and sum."""

    def __init__(self, buckets: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128)) -> None:
        self.buckets = buckets
        #: per bucket, not cumulative; the last one counts what lies above every bound
        self.counts = [0] * (len(buckets) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.buckets, amount)] += 1
        self.count += 1
        self.total += amount


def run_in_deployment(metrics_dir: str, code: str) -> str:
    """Run ``code`` in a new Python process that writes to ``metrics_dir`` as a worker of a
    deployment does (the variable set before anything is imported); its output."""
    import os
    import subprocess
    import sys

    from bentoml_classic.metrics.registry import MULTIPROCESS_DIR_ENV

    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, MULTIPROCESS_DIR_ENV: metrics_dir},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def scrape_directory(metrics_dir: str) -> Samples:
    """What ``/metrics`` of a deployment writing to ``metrics_dir`` would show."""
    code = (
        "import sys\n"
        "from bentoml_classic.metrics.registry import exposition\n"
        "sys.stdout.write(exposition().decode())\n"
    )
    return parse(run_in_deployment(metrics_dir, code))

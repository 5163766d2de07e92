"""Process-local metrics and their Prometheus text rendering.

Only what the framework itself needs, written by hand: one histogram type and the exposition
format. Runner workers keep their own histograms; the API worker that answers ``/metrics`` asks
each runner worker for a snapshot and renders them all, so the figures cover every process.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

BATCH_SIZE_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BATCH_SIZE = "bentoml_runner_batch_size"
BATCH_SIZE_HELP = "Rows per batch that a batchable runner method ran (adaptive batching)."


@dataclass
class Histogram:
    buckets: tuple[float, ...] = BATCH_SIZE_BUCKETS
    #: per bucket, not cumulative; the last one counts what lies above every bound
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def snapshot(self) -> dict[str, object]:
        return {
            "buckets": list(self.buckets),
            "counts": list(self.counts),
            "total": self.total,
            "count": self.count,
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, object]) -> Histogram:
        buckets = tuple(float(b) for b in cast("Iterable[float]", data["buckets"]))
        counts = [int(c) for c in cast("Iterable[int]", data["counts"])]
        total, count = cast(float, data["total"]), cast(int, data["count"])
        return cls(buckets, counts, float(total), int(count))


_batch_sizes: dict[tuple[str, str], Histogram] = {}


def batch_size_histogram(runner: str, method: str) -> Histogram:
    """The histogram of batch sizes of one runner method in this process."""
    return _batch_sizes.setdefault((runner, method), Histogram())


def batch_size_snapshot() -> list[dict[str, object]]:
    return [
        {"runner": runner, "method": method, **histogram.snapshot()}
        for (runner, method), histogram in sorted(_batch_sizes.items())
    ]


def _label_text(labels: Mapping[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")

    return ",".join(f'{key}="{escape(value)}"' for key, value in labels.items())


def _number_text(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(bound)


def render_histograms(
    name: str, help_text: str, series: Iterable[tuple[Mapping[str, str], Histogram]]
) -> str:
    """Prometheus text exposition of one histogram family."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for labels, histogram in series:
        cumulative = 0
        bounds: Sequence[str] = [*map(_number_text, histogram.buckets), "+Inf"]
        for bound, count in zip(bounds, histogram.counts, strict=True):
            cumulative += count
            label_text = _label_text({**labels, "le": bound})
            lines.append(f"{name}_bucket{{{label_text}}} {cumulative}")
        label_text = _label_text(labels)
        lines.append(f"{name}_sum{{{label_text}}} {_number_text(histogram.total)}")
        lines.append(f"{name}_count{{{label_text}}} {histogram.count}")
    return "\n".join(lines) + "\n"

"""Counting one endpoint's requests (and a runner's batch sizes) in one process, added up
there and written to prometheus_client a few times a second.

A request is counted in three families (``builtin.py``): its total, its duration (a
histogram) and the gauge of requests in progress. prometheus_client writes each change to a
memory-mapped file in multiprocess mode, under a lock and after a pid check: ~0.8 µs a
write, five writes a request. Measured on iris at concurrency 64 that was ~10 µs of every
request across the API and runner workers, several per cent of what the machine serves.

So ``DeferredMeter`` and ``DeferredObserver`` (API and runner workers) add figures up in plain
Python, ~0.3 µs a request, and a timer on the event loop that recorded them writes them every
``FLUSH_INTERVAL_S``, once for everything that changed meanwhile. Before ``/metrics`` reads
the files, the API worker answering it writes its own and has its runners' workers write
theirs (a ``METRICS`` frame); another API worker's last fraction of a second shows at the
next scrape. A worker writes the rest as it stops; one killed with SIGKILL loses at most its
last interval. Outside an event loop every change is written at once.
"""

from __future__ import annotations

import asyncio
import weakref
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Protocol

#: seconds between two writes of a worker's figures
FLUSH_INTERVAL_S = 0.25


@dataclass(frozen=True)
class RequestFamilies:
    """The three prometheus_client families requests are counted in."""

    total: Any
    duration: Any
    in_progress: Any


class RequestMeter(Protocol):
    """Requests to one endpoint in this process: ``enter()`` as one starts, ``leave(status,
    seconds)`` as it ends."""

    def enter(self) -> None: ...

    def leave(self, status: int, seconds: float) -> None: ...


class _ByStatus:
    """The total's and the duration's children of each status code seen (made once each)."""

    __slots__ = ("_children", "_families", "_labels")

    def __init__(self, families: RequestFamilies, labels: dict[str, str]) -> None:
        self._families = families
        self._labels = labels
        self._children: dict[int, tuple[Any, Any]] = {}

    def __call__(self, status: int) -> tuple[Any, Any]:
        children = self._children.get(status)
        if children is None:
            labels = {**self._labels, "http_response_code": str(status)}
            children = (
                self._families.total.labels(**labels),
                self._families.duration.labels(**labels),
            )
            self._children[status] = children
        return children


class _PendingHistogram:
    """Observations of one histogram child not yet written: counts per bucket and their sum.

    Written with the child's own values (``_buckets``, ``_sum``: what its ``observe`` adds
    to), one write per bucket that changed instead of two per observation. Should a release of
    prometheus_client lay its histograms out otherwise, each observation is replayed through
    ``observe`` instead: slower, never wrong.
    """

    __slots__ = ("_bounds", "_child", "_counts", "_observed", "_sum")

    def __init__(self, child: Any) -> None:
        self._child = child
        bounds = getattr(child, "_upper_bounds", None)
        buckets = getattr(child, "_buckets", None)
        self._bounds: list[float] | None = None
        if bounds is not None and buckets is not None and hasattr(child, "_sum"):
            self._bounds = list(bounds)
        self._counts = [0] * (len(self._bounds) if self._bounds else 0)
        self._sum = 0.0
        #: the observations themselves, where the child cannot take counts
        self._observed: list[float] = []

    def add(self, amount: float) -> None:
        if self._bounds is None:
            self._observed.append(amount)
            return
        self._counts[bisect_left(self._bounds, amount)] += 1
        self._sum += amount

    def write(self) -> None:
        if self._bounds is None:
            observed, self._observed = self._observed, []
            for amount in observed:
                self._child.observe(amount)
            return
        total, self._sum = self._sum, 0.0
        if total:
            self._child._sum.inc(total)
        for index, count in enumerate(self._counts):
            if count:
                self._counts[index] = 0
                self._child._buckets[index].inc(count)


#: the deferred meters that have recorded something since they were made
_deferred: weakref.WeakSet[_Deferred] = weakref.WeakSet()


def flush_pending() -> None:
    """Write what the deferred meters of this thread's event loop (or of none) hold: before
    ``/metrics`` reads the figures, and as a worker stops."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for meter in list(_deferred):
        loop = meter.loop
        if loop is None or loop is running or loop.is_closed():
            meter.flush()


class _Deferred:
    """Figures added up here and written a few times a second (the module's docstring says
    why), by a timer on the event loop that recorded them; used from that loop's thread only.
    Outside an event loop each change is written at once."""

    __slots__ = ("__weakref__", "_timer", "loop")

    def __init__(self) -> None:
        self._timer: asyncio.TimerHandle | None = None
        #: the event loop whose timer writes the figures; None until one records
        self.loop: asyncio.AbstractEventLoop | None = None

    def _changed(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self.loop = loop
        self._timer = loop.call_later(FLUSH_INTERVAL_S, self.flush)
        _deferred.add(self)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._write()

    def _write(self) -> None:
        raise NotImplementedError


class DeferredMeter(_Deferred):
    """A ``RequestMeter`` that adds requests' figures up and writes them later."""

    __slots__ = ("_by_status", "_in_progress", "_live", "_pending", "_written_live")

    def __init__(self, families: RequestFamilies, labels: dict[str, str]) -> None:
        super().__init__()
        self._in_progress = families.in_progress.labels(**labels)
        self._by_status = _ByStatus(families, labels)
        #: requests in progress now, and as last written
        self._live = 0
        self._written_live = 0
        #: by status: requests not yet counted in the total, and their durations
        self._pending: dict[int, tuple[Any, list[int], _PendingHistogram]] = {}

    def enter(self) -> None:
        self._live += 1
        if self._timer is None:
            self._changed()

    def leave(self, status: int, seconds: float) -> None:
        self._live -= 1
        pending = self._pending.get(status)
        if pending is None:
            total, duration = self._by_status(status)
            pending = self._pending[status] = (total, [0], _PendingHistogram(duration))
        pending[1][0] += 1
        pending[2].add(seconds)
        if self._timer is None:
            self._changed()

    def _write(self) -> None:
        if self._live != self._written_live:
            self._written_live = self._live
            self._in_progress.set(self._live)
        for total, count, durations in self._pending.values():
            if count[0]:
                total.inc(count[0])
                count[0] = 0
            durations.write()


class DeferredObserver(_Deferred):
    """A histogram child's observations (a runner's batch sizes), added up and written later."""

    __slots__ = ("_histogram",)

    def __init__(self, child: Any) -> None:
        super().__init__()
        self._histogram = _PendingHistogram(child)

    def observe(self, amount: float) -> None:
        self._histogram.add(amount)
        if self._timer is None:
            self._changed()

    def _write(self) -> None:
        self._histogram.write()

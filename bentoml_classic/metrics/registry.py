"""Where the figures live, and the one door to ``prometheus_client``.

Every metric, the framework's and the user's, is a ``prometheus_client`` metric in the default
registry of its process. A deployment of several processes (``bentoml serve``: API workers and
runner workers) runs the library in its multiprocess mode: each process writes its values to
files of its own in one directory (``PROMETHEUS_MULTIPROC_DIR``), and ``/metrics``, whichever
API worker answers it, reads and sums the files of every process, those of processes that
have died included. So the figures cover every worker and survive a worker's restart.

The library reads the variable once, when it is first imported, so the arbiter sets it in the
workers' environment before they start (``serving/watchers.py``), and nothing here imports
``prometheus_client`` at import time: ``bentoml_classic.metrics`` must stay cheap to import
(the library takes ~45 ms) and must never be the import that happens before the variable is set.
A process without the variable (``--development``, ``init_local()`` in a notebook, a test) uses
the library as a single process does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

#: the variable ``prometheus_client`` reads at import to choose its multiprocess mode
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: the Prometheus text format, version 0.0.4 (what classic BentoML served)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def prometheus() -> ModuleType:
    """``prometheus_client``, imported on first use (after the environment is settled)."""
    import prometheus_client

    return prometheus_client


def multiprocess_dir() -> str | None:
    """The deployment's metrics directory, or None in a single process."""
    return os.environ.get(MULTIPROCESS_DIR_ENV) or None


def prepare_directory(path: str) -> str:
    """Make ``path`` an empty directory only this user can read: the files name every metric
    and label value a deployment has seen.

    The arbiter's private directory is new at each start, so this finds nothing to remove
    there; a directory that is reused must not carry figures of an earlier deployment.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    for entry in os.scandir(path):
        if entry.name.endswith(".db") and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
    return path


def forget_live_gauges(pid: int, path: str) -> None:
    """A worker has died: drop its values of the gauges that count live processes only
    (``livesum`` and the like: requests in progress). Its counters and histograms stay, so
    the totals still include what it served (prometheus_client's ``mark_process_dead``)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """Every metric in the Prometheus text format: summed over the files of every process in
    multiprocess mode, else this process's registry."""
    client = prometheus()
    path = multiprocess_dir()
    if path is None:
        return bytes(client.generate_latest(client.REGISTRY))
    from prometheus_client.multiprocess import MultiProcessCollector

    collector = MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(_OpaquePids(collector, path))
    return bytes(client.generate_latest(registry))


class _OpaquePids:
    """The multiprocess collector's families, with each ``pid`` label (a gauge's series per
    process, in the ``all`` and ``liveall`` modes) replaced by an opaque id of the process:
    response bodies never carry process ids. The id is stable for a process within one
    deployment (a digest of its pid and the deployment's private directory) and tells nothing
    of the pid to whoever does not know that directory."""

    def __init__(self, collector: Any, salt: str) -> None:
        self._collector = collector
        self._salt = salt.encode()

    def _opaque(self, pid: str) -> str:
        return hashlib.blake2b(pid.encode(), key=self._salt[-64:], digest_size=6).hexdigest()

    def collect(self) -> Iterator[Any]:
        for family in self._collector.collect():
            if family.type == "gauge":
                family.samples = [
                    sample._replace(labels={**sample.labels, "pid": self._opaque(pid)})
                    if (pid := sample.labels.get("pid")) is not None
                    else sample
                    for sample in family.samples
                ]
            yield family


def unregister(metric: Any) -> None:
    """Take ``metric`` out of the default registry (a family rebuilt with other settings)."""
    prometheus().REGISTRY.unregister(metric)

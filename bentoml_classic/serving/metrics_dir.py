"""The deployment's metrics directory: made by the arbiter, written by every worker.

It lies in the arbiter's private directory (0700, new at each start, removed on exit, and swept
by the next start when an arbiter was killed), so it starts empty and no other user reads the
label values in it. Workers learn it from their environment, set before they import anything
(``metrics/registry.py`` says why). When a worker dies, the arbiter drops its values of the
gauges that count live processes only; its counters and histograms stay, so the totals keep
what it served.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any

from ..metrics.registry import MULTIPROCESS_DIR_ENV, forget_live_gauges, prepare_directory

logger = logging.getLogger(__name__)

#: Circus's hook name: called in the arbiter once a worker has exited and been reaped
_AFTER_REAP = "after_reap"


def metrics_directory(private_dir: str) -> str:
    """An empty directory for the metrics of the deployment whose private directory this is."""
    return prepare_directory(os.path.join(private_dir, "prometheus"))


def metrics_env(metrics_dir: str | None) -> dict[str, str]:
    """What a worker's environment needs to write there."""
    return {MULTIPROCESS_DIR_ENV: metrics_dir} if metrics_dir else {}


def reap_hooks(metrics_dir: str | None, *, preforked: bool = False) -> dict[str, tuple[Any, bool]]:
    """Circus hooks for a watcher whose workers write to ``metrics_dir`` (failures ignored: a
    missing file must never stop the arbiter from replacing a worker).

    ``preforked``: Circus sees only the preforking parent (``prefork.py``), which drops the
    gauges of each worker it reaps; when that parent itself dies (killed), its workers die with
    it unreaped by it, so every process whose gauges are there and which is gone is dropped."""
    if not metrics_dir:
        return {}
    forget = _forget_dead_processes if preforked else _forget_dead_worker
    return {_AFTER_REAP: (partial(forget, metrics_dir), True)}


def _forget_dead_processes(metrics_dir: str, *, process_pid: int, **_: Any) -> bool:
    _forget_dead_worker(metrics_dir, process_pid=process_pid)
    for pid in _pids_with_live_gauges(metrics_dir):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _forget_dead_worker(metrics_dir, process_pid=pid)
        except PermissionError:
            pass
    return True


def _pids_with_live_gauges(metrics_dir: str) -> set[int]:
    """The processes that wrote live gauges (prometheus_client names those files
    ``gauge_live<mode>_<pid>.db``)."""
    pids = set()
    for name in os.listdir(metrics_dir):
        if name.startswith("gauge_live") and name.endswith(".db"):
            pid = name[: -len(".db")].rpartition("_")[2]
            if pid.isdigit():
                pids.add(int(pid))
    return pids


def _forget_dead_worker(metrics_dir: str, *, process_pid: int, **_: Any) -> bool:
    try:
        forget_live_gauges(process_pid, metrics_dir)
    except OSError as exc:
        logger.warning("could not drop the live gauges of worker %d: %s", process_pid, exc)
    return True

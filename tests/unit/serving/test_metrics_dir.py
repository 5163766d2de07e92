"""The deployment's metrics directory as the arbiter sets it up: in the private directory,
in every worker's environment, and cleaned of a dead worker's live gauges by Circus's reap
hook (the watchers themselves, and the arbiter that calls the hook, run in tests/e2e)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bentoml_classic.metrics.registry import MULTIPROCESS_DIR_ENV
from bentoml_classic.serving.metrics_dir import metrics_directory, metrics_env, reap_hooks
from tests.support.metrics import run_in_deployment, scrape_directory, value

WORKER = """
import os
from bentoml_classic.metrics import Counter, Gauge
Counter("reaped_served", "Served").inc(4)
Gauge("reaped_live", "Live", multiprocess_mode="livesum").set(1)
print(os.getpid())
"""


def test_the_directory_lies_in_the_private_one_and_is_private(tmp_path: Path) -> None:
    directory = metrics_directory(str(tmp_path))
    assert Path(directory).parent == tmp_path
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert metrics_env(directory) == {MULTIPROCESS_DIR_ENV: directory}
    assert metrics_env(None) == {}
    assert reap_hooks(None) == {}


def test_the_reap_hook_forgets_a_dead_workers_live_gauges_only(tmp_path: Path) -> None:
    directory = metrics_directory(str(tmp_path))
    dead = int(run_in_deployment(directory, WORKER))
    run_in_deployment(directory, WORKER)
    hook, ignore_failure = reap_hooks(directory)["after_reap"]
    assert ignore_failure  # a hook that fails must not keep Circus from replacing a worker
    # as Circus calls it, in the arbiter, once the worker has been reaped
    assert hook(watcher=None, arbiter=None, hook_name="after_reap", process_pid=dead, time=0.0)
    samples = scrape_directory(directory)
    assert value(samples, "reaped_live") == 1
    assert value(samples, "reaped_served_total") == 8
    # a worker whose files are already gone (or never written) is no error
    assert hook(watcher=None, arbiter=None, hook_name="after_reap", process_pid=dead)

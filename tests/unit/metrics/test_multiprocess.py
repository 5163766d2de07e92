"""Several processes writing to one metrics directory, as the workers of a deployment do: the
exposition sums them, keeps what a dead process counted, forgets its live gauges once it is
marked dead, and shows no process id. Real processes, with the variable set before they import
anything."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bentoml_classic.metrics.registry import forget_live_gauges, prepare_directory
from tests.support.metrics import run_in_deployment, scrape_directory, series, value

WORKER = """
import asyncio, os, sys
from bentoml_classic.metrics import Counter, Gauge
from bentoml_classic.metrics.builtin import api_meter
from bentoml_classic.metrics.meters import flush_pending

served = {served}
meter = api_meter("/mp", "mp_svc")

async def serve():
    for _ in range(served):
        meter.enter()
        meter.leave(200, 0.01)
    meter.enter()  # still in progress when the process ends
    flush_pending()

asyncio.run(serve())
Counter("mp_user", "Counted by each worker").inc(served)
Gauge("mp_live", "One per live worker", multiprocess_mode="livesum").set(1)
Gauge("mp_each", "One series per worker").set(served)
print(os.getpid())
"""


def test_prepare_directory_makes_a_private_empty_directory(tmp_path: Path) -> None:
    path = tmp_path / "metrics"
    path.mkdir(mode=0o755)
    (path / "counter_123.db").write_bytes(b"old figures")
    (path / "notes.txt").write_text("not ours")
    assert prepare_directory(str(path)) == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert sorted(p.name for p in path.iterdir()) == ["notes.txt"]
    fresh = tmp_path / "fresh"
    prepare_directory(str(fresh))
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700


def test_workers_are_summed_and_a_dead_ones_counts_stay(tmp_path: Path) -> None:
    directory = prepare_directory(str(tmp_path / "metrics"))
    first = int(run_in_deployment(directory, WORKER.format(served=2)))
    second = int(run_in_deployment(directory, WORKER.format(served=3)))
    labels = {"endpoint": "/mp", "service_name": "mp_svc"}
    samples = scrape_directory(directory)
    assert value(samples, "bentoml_api_server_request_total", **labels) == 5
    assert value(samples, "bentoml_api_server_request_duration_seconds_count", **labels) == 5
    assert value(samples, "bentoml_api_server_request_in_progress", **labels) == 2
    [in_progress] = series(samples, "bentoml_api_server_request_in_progress", **labels)
    assert "pid" not in in_progress  # livesum: one series for the deployment
    assert value(samples, "mp_user_total") == 5
    assert value(samples, "mp_live") == 2
    ids = {labels["pid"] for labels in series(samples, "mp_each")}
    assert len(ids) == 2  # one series per process, by an id of its own
    assert not ids & {str(first), str(second)}  # never its process id
    assert {labels["pid"] for labels in series(scrape_directory(directory), "mp_each")} == ids

    forget_live_gauges(first, directory)  # the supervisor saw it exit
    samples = scrape_directory(directory)
    assert value(samples, "bentoml_api_server_request_in_progress", **labels) == 1
    assert value(samples, "mp_live") == 1
    # what it counted is still counted
    assert value(samples, "bentoml_api_server_request_total", **labels) == 5
    assert value(samples, "mp_user_total") == 5
    assert len(series(samples, "mp_each")) == 2  # "all" keeps a dead process's last value

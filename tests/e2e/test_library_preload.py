"""Library preload, `bentoml serve`'s default, as real processes (``serving/library_preload.py``).

One preforking process imports the HTTP stack and the service's libraries (numpy, pandas and so
pyarrow), never the service module, and forks the API workers and the workers of the runner
that shares their environment; each worker imports the service module itself. What a library
left in the parent must not be shared by the workers: numpy's global random state is reseeded
in each, and pyarrow (whose jemalloc runs a thread the children do not have) still reads
parquet in a forked worker. The fault cases of a preforked tree (killed workers replaced, a
killed preforker, the drain) are tests/e2e/test_prefork.py's.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from bentoml_classic.serving.prefork import FORK_AWARE_THREADS
from tests.support.process_roles import role_of, workers_by_role
from tests.support.servers import E2E_SERVICES, serve_subprocess
from tests.support.waiting import wait_for

SERVICE = ["library_preload_service:svc", "--api-workers", "2"]


@dataclass
class Server:
    url: str
    arbiter: int
    #: where each process that imported the service module wrote its pid and first draw
    reports: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reports = tmp_path_factory.mktemp("imports")
    env = {
        "BENTOML_HOME": str(tmp_path_factory.mktemp("home")),
        "IMPORT_REPORTS": str(reports),
        # two runner workers whatever the machine's CPU count; the default configuration else
        "BENTOML_CONFIG_OPTIONS": "runners.resources.cpu=2",
    }
    with serve_subprocess(SERVICE, cwd=E2E_SERVICES, env=env) as (url, process):
        yield Server(url, process.pid, reports)


def imports_by_pid(server: Server, workers: list[psutil.Process]) -> dict[int, int]:
    """pid -> first draw of each process that imported the service module, once every one of
    ``workers`` has (a runner worker may still be loading when the API workers are ready)."""
    pids = {worker.pid for worker in workers}

    def reported() -> dict[int, int]:
        found = {}
        for path in server.reports.glob("*.json"):
            with contextlib.suppress(ValueError):  # a file being written
                report = json.loads(path.read_text())
                found[report["pid"]] = report["first_draw"]
        return found

    assert wait_for(lambda: pids <= set(reported()), 30), (pids, reported())
    return reported()


def preforker_of(arbiter_pid: int) -> psutil.Process:
    [preforker] = [
        child for child in psutil.Process(arbiter_pid).children() if role_of(child) == "preforker"
    ]
    return preforker


def thread_names(pid: int) -> list[str]:
    return [path.read_text().strip() for path in Path(f"/proc/{pid}/task").glob("*/comm")]


def test_one_preforker_forks_the_api_and_runner_workers_after_the_libraries_only(
    server: Server,
) -> None:
    arbiter = server.arbiter
    preforker = preforker_of(arbiter)
    assert "--preload libraries" in " ".join(preforker.cmdline())
    workers = workers_by_role(arbiter)
    assert (len(workers["api"]), len(workers["runner"])) == (2, 2)
    assert {w.ppid() for w in workers["api"] + workers["runner"]} == {preforker.pid}
    # pandas and pyarrow are mapped by the preforker: the workers share those pages
    maps = Path(f"/proc/{preforker.pid}/maps").read_text()
    assert "/pandas/_libs/" in maps and "/pyarrow/" in maps
    assert "/torch/" not in maps
    # no thread of a library's was running when it forked, but those whose fork handlers
    # account for them
    threads = thread_names(preforker.pid)
    threads.remove(Path(f"/proc/{preforker.pid}/comm").read_text().strip())  # the main one
    assert set(threads) <= FORK_AWARE_THREADS, threads

    # each worker imported the service module itself, after the fork; the preforker never did
    imported = imports_by_pid(server, workers["api"] + workers["runner"])
    assert preforker.pid not in imported
    # the supervisor neither: a short-lived child planned the deployment
    assert arbiter not in imported


def test_workers_forked_from_one_parent_draw_different_random_numbers(server: Server) -> None:
    """pandas imports numpy.random in the preforker: without the reseed, every worker forked
    from it would draw the same first number when it imports the service module."""
    workers = workers_by_role(server.arbiter)
    forked = workers["api"] + workers["runner"]
    imported = imports_by_pid(server, forked)
    first_draws = [imported[worker.pid] for worker in forked]
    assert len(first_draws) == 4
    assert len(set(first_draws)) == 4, first_draws


def test_forked_workers_read_parquet_and_build_frames(server: Server) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]})
    body = io.BytesIO()
    frame.to_parquet(body, engine="pyarrow")
    response = httpx.post(
        f"{server.url}/sum_rows",
        content=body.getvalue(),
        headers={"content-type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json() == [{"sum": 11.0}, {"sum": 22.0}, {"sum": 33.0}]

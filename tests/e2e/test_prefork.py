"""The preforked topology (``api_server.preload``, ``runners.preload``) as real processes.

Circus supervises one preforking process for the API workers, which also forks the workers of
the runners that share their environment (``shared_runners.py``); a runner whose preload is on
while the API workers' is off keeps a preforker of its own. A worker killed with SIGKILL is
replaced by its preforker; a preforker killed with SIGKILL takes its workers with it and Circus
starts it again; SIGTERM drains the requests in flight, the runner workers still serving the
API workers while they drain, and leaves no process behind.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.servers import E2E_SERVICES, serve_subprocess
from tests.support.waiting import wait_for

PRELOAD = {"BENTOML_CONFIG_OPTIONS": "api_server.preload=true runners.preload=true"}
#: the runner's workers preforked by a parent of their own
RUNNERS_ONLY = {"BENTOML_CONFIG_OPTIONS": "runners.preload=true"}
SERVICE = ["runner_service:svc", "--api-workers", "2"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"BENTOML_HOME": str(tmp_path / "home"), **PRELOAD}


def preforker(arbiter_pid: int, role: str) -> psutil.Process | None:
    """The arbiter's preforking child for ``role`` (api or runner), if one is running."""
    for child in psutil.Process(arbiter_pid).children():
        try:
            if f"serving.prefork {role}" in " ".join(child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def live(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def workers_of(arbiter_pid: int, role: str) -> list[psutil.Process]:
    """The workers ``role``'s preforker forked (the API preforker's: API and runner workers)."""
    parent = preforker(arbiter_pid, role)
    return live(parent.children()) if parent else []


def listens_on_tcp(process: psutil.Process) -> bool:
    """An API worker holds the public socket; a runner worker forked beside it closed it."""
    try:
        return any(c.status == psutil.CONN_LISTEN for c in process.net_connections("tcp"))
    except psutil.Error:
        return False


def api_workers(arbiter_pid: int) -> list[psutil.Process]:
    return [p for p in workers_of(arbiter_pid, "api") if listens_on_tcp(p)]


def runner_workers(arbiter_pid: int) -> list[psutil.Process]:
    return [p for p in workers_of(arbiter_pid, "api") if not listens_on_tcp(p)]


def answers(url: str) -> bool:
    try:
        response = httpx.post(f"{url}/sleep", json={"seconds": 0.01}, timeout=10)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def test_one_preforker_forks_api_and_runner_workers_and_replaces_killed_ones(
    env: dict[str, str],
) -> None:
    with serve_subprocess(SERVICE, cwd=E2E_SERVICES, env=env) as (url, process):
        api_parent = preforker(process.pid, "api")
        assert api_parent is not None
        assert {p.pid for p in psutil.Process(process.pid).children()} == {api_parent.pid}
        assert wait_for(lambda: len(api_workers(process.pid)) == 2, 30)
        assert wait_for(lambda: len(runner_workers(process.pid)) >= 1, 30)
        for find in (api_workers, runner_workers):
            before = find(process.pid)
            victim = before[0]
            victim.kill()
            assert wait_for(
                lambda find=find, before=before, victim=victim: (
                    len(find(process.pid)) == len(before)
                    and victim.pid not in {p.pid for p in find(process.pid)}
                ),
                30,
            ), [p.pid for p in find(process.pid)]
        assert preforker(process.pid, "api").pid == api_parent.pid  # type: ignore[union-attr]
        assert wait_for(lambda: answers(url), 30)
        # killed, it takes both kinds of workers with it, and Circus starts it again
        old_workers = workers_of(process.pid, "api")
        api_parent.kill()
        assert wait_for(lambda: not live(old_workers), 30), [p.pid for p in live(old_workers)]
        assert wait_for(
            lambda: (
                (new := preforker(process.pid, "api")) is not None
                and new.pid != api_parent.pid
                and len(api_workers(process.pid)) == 2
                and len(runner_workers(process.pid)) == len(old_workers) - 2
            ),
            30,
        )
        assert wait_for(lambda: answers(url), 30)


def test_a_killed_preforker_takes_its_workers_and_circus_starts_it_again(
    tmp_path: Path,
) -> None:
    env = {"BENTOML_HOME": str(tmp_path / "home"), **RUNNERS_ONLY}
    with serve_subprocess(SERVICE, cwd=E2E_SERVICES, env=env) as (url, process):
        runner_parent = preforker(process.pid, "runner")
        assert runner_parent is not None
        assert wait_for(lambda: workers_of(process.pid, "runner"), 30)
        old_workers = workers_of(process.pid, "runner")
        runner_parent.kill()
        # the orphaned workers drain for at most worker_process.ORPHAN_GRACE_SECONDS, then exit
        assert wait_for(lambda: not live(old_workers), 30), [p.pid for p in live(old_workers)]
        assert wait_for(
            lambda: (
                (new := preforker(process.pid, "runner")) is not None
                and new.pid != runner_parent.pid
                and len(workers_of(process.pid, "runner")) == len(old_workers)
            ),
            30,
        )
        assert wait_for(lambda: answers(url), 30)


def test_sigterm_drains_in_flight_requests_and_leaves_no_process(env: dict[str, str]) -> None:
    with serve_subprocess(SERVICE, cwd=E2E_SERVICES, env=env) as (url, process):
        assert wait_for(lambda: len(api_workers(process.pid)) == 2, 30)
        assert runner_workers(process.pid), "the runner's workers are forked by the same parent"
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
        results: list[int] = []

        def slow_call() -> None:
            results.append(httpx.post(f"{url}/sleep", json={"seconds": 3}, timeout=60).status_code)

        callers = [threading.Thread(target=slow_call) for _ in range(3)]
        for caller in callers:
            caller.start()
        assert wait_for(lambda: _open_client_connections(process.pid) >= 3, 30)
        time.sleep(1.0)  # their bodies read, the calls on their way to the runner
        process.send_signal(signal.SIGTERM)
        for caller in callers:
            caller.join(timeout=60)
        assert results == [200, 200, 200]
        assert wait_for(lambda: not live(family), 30), [p.cmdline() for p in live(family)]
        assert process.wait(timeout=30) == 0


def _open_client_connections(arbiter_pid: int) -> int:
    """TCP connections the API workers have accepted (the slow calls have reached them)."""
    count = 0
    for worker in workers_of(arbiter_pid, "api"):
        try:
            count += sum(c.status == psutil.CONN_ESTABLISHED for c in worker.net_connections("tcp"))
        except psutil.Error:
            continue
    return count

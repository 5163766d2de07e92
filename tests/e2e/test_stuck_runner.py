"""A model call that hangs: the caller gets its 504 after ``runners.timeout``, and the runner
worker that runs it replaces itself (``serving/stuck_model.py``) once the call has run
``runners.timeout`` plus the grace; the runner's other worker serves meanwhile (``/readyz``
says so), and the service answers as before once the new worker is up. With one worker of
each kind and both the sync API and the model running inline on their loop threads, the API
worker still answers ``/livez`` (``inline_greenlet.py``) and the runner worker its pings
(``protocol/stand_in.py``) while the call hangs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.support.process_roles import workers_by_role
from tests.support.servers import E2E_SERVICES, serve_subprocess
from tests.support.waiting import wait_for


def runner_pids(arbiter_pid: int) -> set[int]:
    """The live runner workers (one that just exited may linger as a zombie a moment)."""
    return {process.pid for process in workers_by_role(arbiter_pid)["runner"]}


def test_a_worker_stuck_on_a_call_is_replaced_and_the_service_recovers(tmp_path: Path) -> None:
    env = {
        "BENTOML_HOME": str(tmp_path),
        # two runner workers; a call may take 1 s before its caller gets a 504
        "BENTOML_CONFIG_OPTIONS": "runners.timeout=1 runners.resources.cpu=2",
    }
    args = ["runner_service:svc", "--api-workers", "1"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        before = runner_pids(process.pid)
        assert len(before) == 2
        hung: list[int] = []

        def hang() -> None:
            response = httpx.post(f"{url}/sleep", json={"seconds": 120}, timeout=30)
            hung.append(response.status_code)

        # quick calls first: each worker then runs the method on its event loop thread, which
        # the hang blocks, pings included
        for _ in range(30):
            assert httpx.post(f"{url}/sleep", json={"seconds": 0}, timeout=10).status_code == 200
        caller = threading.Thread(target=hang)
        started = time.monotonic()
        caller.start()
        time.sleep(0.5)
        # the sibling answers its pings: the service can serve, and says so
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        caller.join(timeout=30)
        assert hung == [504]  # runners.timeout, not the 120 s the model would take
        assert time.monotonic() - started < 10
        # the stuck worker replaces itself at about 1 + 1 s; its sibling stays
        assert wait_for(lambda: len(runner_pids(process.pid) - before) == 1, 20)
        after = runner_pids(process.pid)
        assert len(after) == 2 and len(after & before) == 1
        assert wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 30)
        answers = [httpx.post(f"{url}/sleep", json={"seconds": 0}, timeout=10) for _ in range(10)]
        assert [a.status_code for a in answers] == [200] * 10
        assert {a.json()["pid"] for a in answers} <= after


def test_probes_are_answered_while_an_inline_call_hangs_on_both_loops(tmp_path: Path) -> None:
    env = {
        "BENTOML_HOME": str(tmp_path),
        # one runner worker, whose pings only it can answer; the call hangs for 6 s before its
        # 504, room for both probes on a loaded machine (with 2 s, a run beside another test
        # file, as `make test` runs them, once saw the 504 first)
        "BENTOML_CONFIG_OPTIONS": "runners.timeout=6 runners.resources.cpu=1",
    }
    args = ["runner_service:svc", "--api-workers", "1"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        (worker,) = runner_pids(process.pid)

        def where() -> str:
            answer = httpx.post(f"{url}/sleep_where", json={"seconds": 0}, timeout=10)
            assert answer.status_code == 200
            return str(answer.json()["thread"])

        # quick calls until the sync API runs on the loop thread (the model, proven quick after
        # 8 of them, then runs on the runner's loop thread too)
        assert wait_for(lambda: all(where() == "MainThread" for _ in range(3)), 30)
        hung: list[int] = []

        def hang() -> None:
            response = httpx.post(f"{url}/sleep_where", json={"seconds": 120}, timeout=30)
            hung.append(response.status_code)

        caller = threading.Thread(target=hang)
        caller.start()
        time.sleep(0.5)
        live = httpx.get(f"{url}/livez", timeout=10)
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert not hung  # both answered before the hang ended
        assert (live.status_code, ready.status_code) == (200, 200)
        caller.join(timeout=30)
        assert hung == [504]
        # the worker replaces itself; the service answers as before once the new one is up
        assert wait_for(lambda: worker not in runner_pids(process.pid), 20)
        assert wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 30)
        where()

"""The production topology as real processes: arbiter, API workers, runner workers.

Each test starts `bentoml serve` (or the two-tier commands) in its own process group, talks HTTP
to it, kills or signals real processes and checks what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support import metrics
from tests.support.configs import needs_default_scheduling_policy
from tests.support.process_roles import workers_by_role
from tests.support.servers import E2E_SERVICES, IRIS, output_of, serve_subprocess
from tests.support.waiting import wait_for

RUNNER_SERVICE = ["runner_service:svc"]


def children(process_pid: int) -> list[psutil.Process]:
    return psutil.Process(process_pid).children(recursive=True)


def by_role(process_pid: int) -> dict[str, list[psutil.Process]]:
    return workers_by_role(process_pid)


def mapped_files(process: psutil.Process) -> str:
    return Path(f"/proc/{process.pid}/maps").read_text()


def thread_names(process: psutil.Process) -> set[str]:
    names = set()
    for thread in process.threads():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names.add(Path(f"/proc/{process.pid}/task/{thread.id}/comm").read_text().strip())
    return names


def thread_policies(process: psutil.Process) -> set[int]:
    """The Linux scheduling policies of a process's threads."""
    policies = set()
    for thread in process.threads():
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            policies.add(os.sched_getscheduler(thread.id))
    return policies


@pytest.fixture
def home_env(tmp_path: Path) -> dict[str, str]:
    return {"BENTOML_HOME": str(tmp_path / "home")}


def test_process_tree_and_model_only_in_runner(iris_env: dict[str, str]) -> None:
    with serve_subprocess(["service:svc", "--api-workers", "2"], cwd=IRIS, env=iris_env) as (
        url,
        process,
    ):
        response = httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]])
        assert response.json() == [2]
        roles = by_role(process.pid)
        assert len(roles["api"]) == 2
        assert len(roles["runner"]) == 1
        # scikit-learn's compiled modules are mapped only where the model is loaded
        assert "sklearn" in mapped_files(roles["runner"][0])
        for api_worker in roles["api"]:
            assert "sklearn" not in mapped_files(api_worker)
        # every worker keeps its freed request memory and hands it back at rest (heap.py)
        for worker in [*roles["api"], *roles["runner"]]:
            assert "heap-trim" in thread_names(worker)


def policies_by_role(
    iris_env: dict[str, str], options: str = "", trimmers: tuple[bool, bool] = (True, True)
) -> tuple[set[int], set[int], int]:
    """The scheduling policies of the threads of the API worker and of the runner worker, and
    the arbiter's policy, in a server started with ``options``; ``trimmers``: whether the API
    worker and the runner worker are expected to run a heap trimmer thread (heap.py)."""
    env = {**iris_env, "BENTOML_CONFIG_OPTIONS": options}
    with serve_subprocess(["service:svc", "--api-workers", "1"], cwd=IRIS, env=env) as (
        url,
        process,
    ):
        # a sync call in the pool starts a pool thread: it must get the policy too
        assert httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]]).json() == [2]
        roles = by_role(process.pid)
        [api_worker], [runner_worker] = roles["api"], roles["runner"]
        assert len(api_worker.threads()) >= 3  # the loop, the parent watch, a pool thread
        running = tuple("heap-trim" in thread_names(w) for w in (api_worker, runner_worker))
        assert running == trimmers
        return (
            thread_policies(api_worker),
            thread_policies(runner_worker),
            os.sched_getscheduler(process.pid),
        )


@needs_default_scheduling_policy
def test_api_worker_threads_run_under_sched_batch_by_default(iris_env: dict[str, str]) -> None:
    """server/scheduling.py: SCHED_BATCH for every API worker thread; runner workers and the
    arbiter keep the policy they were started with."""
    assert policies_by_role(iris_env) == ({os.SCHED_BATCH}, {os.SCHED_OTHER}, os.SCHED_OTHER)


@needs_default_scheduling_policy
def test_worker_scheduling_policies_follow_the_configuration(iris_env: dict[str, str]) -> None:
    options = "api_server.scheduling_policy=inherit runners.iris_clf.scheduling_policy=batch"
    # and the heap policy: off for the API worker only
    options += " api_server.heap.retain_mb=0"
    assert policies_by_role(iris_env, options, trimmers=(False, True)) == (
        {os.SCHED_OTHER},
        {os.SCHED_BATCH},
        os.SCHED_OTHER,
    )


def test_runner_exception_is_an_http_error_naming_it(home_env: dict[str, str]) -> None:
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env) as (url, process):
        response = httpx.post(f"{url}/fail", json={"message": "the model disliked it"})
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["type"] == "RunnerError"
        assert error["detail"]["exception"] == "ValueError"
        assert (error["detail"]["runner"], error["detail"]["method"]) == ("sleeper", "fail")
        # production: the model's message goes to the log, the client gets the request id
        assert "the model disliked it" not in response.text
        request_id = response.headers["x-request-id"]
        assert error["detail"]["request_id"] == request_id
        assert wait_for(
            lambda: any(
                request_id in line and "the model disliked it" in line
                for line in output_of(process).splitlines()
            ),
            10,
        ), output_of(process)
        assert httpx.post(f"{url}/sleep", json={"seconds": 0}).status_code == 200


def test_per_worker_environment_and_concurrent_calls(home_env: dict[str, str]) -> None:
    """A single-threaded runnable gets one worker per CPU, each with one thread; one API worker
    calls both at once instead of one after the other."""
    env = {**home_env, "BENTOML_CONFIG_OPTIONS": "runners.resources.cpu=2"}
    args = [*RUNNER_SERVICE, "--api-workers", "1"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        assert len(by_role(process.pid)["runner"]) == 2
        reported = httpx.post(f"{url}/environment", json={}).json()
        assert reported["OMP_NUM_THREADS"] == "1"
        assert reported["MKL_NUM_THREADS"] == "1"
        assert reported["CUDA_VISIBLE_DEVICES"] == ""
        for route in ("sleep", "async_sleep"):
            results: list[httpx.Response] = []

            def call(route: str = route, results: list[httpx.Response] = results) -> None:
                results.append(httpx.post(f"{url}/{route}", json={"seconds": 1.0}, timeout=30))

            threads = [threading.Thread(target=call) for _ in range(2)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            assert [r.status_code for r in results] == [200, 200]
            assert len({r.json()["pid"] for r in results}) == 2, route
            assert elapsed < 1.9, f"{route}: two 1 s calls took {elapsed:.2f} s"


def test_a_quick_sync_api_calls_its_runner_from_the_event_loop_thread(
    home_env: dict[str, str],
) -> None:
    """Once proven quick, a lone request's sync function runs on the loop thread (no hand-off to
    the pool and back); its blocking runner call there works and does not warn."""
    args = [*RUNNER_SERVICE, "--api-workers", "1"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=home_env) as (url, process):
        with httpx.Client() as client:
            threads = [client.post(f"{url}/where", json={}).json()["thread"]]
            # a pool run slower than the quick limit (a loaded machine) starts the proof over:
            # bounded by time, not by a count (100 tries never proved it at load average 8)
            deadline = time.monotonic() + 60
            while threads[-1] != "MainThread" and time.monotonic() < deadline:
                threads.append(client.post(f"{url}/where", json={}).json()["thread"])
        assert threads[0].startswith("api-sync-")
        assert threads[-1] == "MainThread"
        assert "blocks the event loop" not in output_of(process)


def test_a_request_past_the_traffic_timeout_gets_a_504_while_its_runner_call_goes_on(
    home_env: dict[str, str],
) -> None:
    env = {**home_env, "BENTOML_CONFIG_OPTIONS": "api_server.traffic.timeout=1"}
    args = [*RUNNER_SERVICE, "--api-workers", "1"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, _):
        for route in ("sleep", "async_sleep"):
            started = time.monotonic()
            response = httpx.post(f"{url}/{route}", json={"seconds": 4}, timeout=30)
            assert response.status_code == 504, route
            assert response.json()["error"]["type"] == "GatewayTimeout"
            assert time.monotonic() - started < 3.5, route  # the deadline, not the runner
            assert httpx.get(f"{url}/livez").status_code == 200
            # the runner finishes the abandoned call, then serves again
            assert wait_for(
                lambda: (
                    httpx.post(f"{url}/sleep", json={"seconds": 0}, timeout=30).status_code == 200
                ),
                timeout=15,
            ), route


def test_readyz_is_503_until_the_runner_has_loaded(home_env: dict[str, str]) -> None:
    env = {**home_env, "SLOW_INIT_SECONDS": "4"}
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=env, ready_path="/livez") as (
        url,
        _,
    ):
        early = httpx.get(f"{url}/readyz", timeout=10)
        assert early.status_code == 503
        assert early.headers["retry-after"] == "1"
        assert "sleeper" in early.json()["error"]["message"]
        assert wait_for(lambda: httpx.get(f"{url}/readyz", timeout=10).status_code == 200, 30)


def test_readyz_stays_200_while_the_runner_computes(home_env: dict[str, str]) -> None:
    """A model busy for seconds is not a dead runner: the readiness probe and /metrics are
    answered by the runner's event loop while the model runs on its lane's thread."""
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env) as (url, _):
        outcome: list[httpx.Response] = []
        busy = threading.Thread(
            target=lambda: outcome.append(
                httpx.post(f"{url}/sleep", json={"seconds": 3.0}, timeout=30)
            )
        )
        busy.start()
        try:
            time.sleep(0.5)  # the call is in the runner by now
            probes = [httpx.get(f"{url}/readyz", timeout=10) for _ in range(3)]
            assert [p.status_code for p in probes] == [200, 200, 200], probes[-1].text
            assert httpx.get(f"{url}/metrics", timeout=10).status_code == 200
            assert not outcome, "the 3 s call ended early: the probes proved nothing"
        finally:
            busy.join(30)
        assert outcome[0].status_code == 200
        assert outcome[0].json()["slept"] == 3.0


class RequestStream:
    """Requests sent back to back from a few threads; records every outcome."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.outcomes: list[tuple[float, int | str, str | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop) for _ in range(threads)]

    def _loop(self) -> None:
        with httpx.Client(timeout=15) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(self.url, json={"seconds": 0.05})
                    outcome: int | str = response.status_code
                    retry_after = response.headers.get("retry-after")
                except httpx.HTTPError as exc:
                    outcome, retry_after = type(exc).__name__, None
                self.outcomes.append((time.monotonic(), outcome, retry_after))

    def __enter__(self) -> RequestStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_killed_runner_gives_clean_503s_and_service_resumes(home_env: dict[str, str]) -> None:
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env) as (url, process):
        before = by_role(process.pid)["runner"]
        victim = before[0]
        with RequestStream(f"{url}/sleep") as stream:
            time.sleep(1.0)
            killed_at = time.monotonic()
            victim.kill()
            assert wait_for(
                lambda: any(t > killed_at + 0.2 and o == 200 for t, o, _ in stream.outcomes), 5
            ), "no successful request within 5 s of the runner being killed"
            time.sleep(0.5)
        outcomes = [o for _, o, _ in stream.outcomes]
        assert set(outcomes) <= {200, 503}, f"unexpected outcomes: {set(outcomes)}"
        assert all(r == "1" for _, o, r in stream.outcomes if o == 503)
        after = {p.pid for p in by_role(process.pid)["runner"]}
        assert len(after) == len(before) and victim.pid not in after


def _runner_calls_in_progress(url: str, method: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return metrics.value(metrics.parse(text), "bentoml_runner_request_in_progress", endpoint=method)


def test_sigterm_drains_in_flight_requests_then_everything_exits(
    home_env: dict[str, str],
) -> None:
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env) as (url, process):
        family = [psutil.Process(process.pid), *children(process.pid)]
        results: list[int] = []

        def slow_call() -> None:
            results.append(httpx.post(f"{url}/sleep", json={"seconds": 2}, timeout=30).status_code)

        callers = [threading.Thread(target=slow_call) for _ in range(3)]
        for caller in callers:
            caller.start()
        # the calls are in the runner (a fixed sleep here failed at load average 16)
        assert wait_for(lambda: _runner_calls_in_progress(url, "/sleep") == 3, 20)
        socket_dirs = {
            os.path.dirname(path)
            for child in family[1:]
            for path in _unix_socket_paths(child)
            if "bentoml-sockets-" in path
        }
        process.send_signal(signal.SIGTERM)
        for caller in callers:
            caller.join(timeout=30)
        assert results == [200, 200, 200]
        assert wait_for(
            lambda: not any(p.is_running() and p.status() != "zombie" for p in family), 10
        )
        assert socket_dirs and not any(os.path.exists(d) for d in socket_dirs)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_prints_no_traceback(home_env: dict[str, str], how: str) -> None:
    """Circus' periodic watcher check (every 0.5 s) used to collide with its own stop command
    and log a ConflictError traceback whenever a stop took longer than that."""
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env) as (url, process):
        results: list[int] = []
        caller = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{url}/sleep", json={"seconds": 1.5}, timeout=30).status_code
            )
        )
        caller.start()
        time.sleep(0.3)  # the call is in the runner: the stop waits for it
        if how == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)  # a terminal sends it to the whole group
        else:
            process.send_signal(signal.SIGTERM)
        caller.join(30)
        process.wait(timeout=20)
        printed = output_of(process)
    assert results == [200]
    assert process.returncode == 0, printed
    assert "Traceback" not in printed, printed
    assert "ERROR" not in printed, printed


def _unix_socket_paths(process: psutil.Process) -> list[str]:
    try:
        return [c.laddr for c in process.net_connections(kind="unix") if c.laddr]
    except psutil.Error:
        return []


def test_no_orphans_after_arbiter_is_killed(home_env: dict[str, str]) -> None:
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env) as (_, process):
        workers = children(process.pid)
        assert len(workers) >= 2
        socket_dirs = {
            os.path.dirname(path)
            for worker in workers
            for path in _unix_socket_paths(worker)
            if "bentoml-sockets-" in path
        }
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

        def all_gone() -> bool:
            return not any(w.is_running() and w.status() != "zombie" for w in workers)

        assert wait_for(all_gone, 10), [w.cmdline() for w in workers if w.is_running()]
    # nobody could remove the killed arbiter's socket directory; the next start does
    assert socket_dirs and all(os.path.isdir(d) for d in socket_dirs)
    with serve_subprocess(RUNNER_SERVICE, cwd=E2E_SERVICES, env=home_env):
        assert not any(os.path.exists(d) for d in socket_dirs)


@pytest.fixture
def runner_server(iris_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**iris_env, "BENTOML_RUNNER_TOKEN": "correct horse battery staple"}
    args = ["service:svc", "--runner-name", "iris_clf"]
    with serve_subprocess(
        args, cwd=IRIS, env=env, command="start-runner-server", ready_path=""
    ) as (url, process):
        host_port = url.removeprefix("http://")
        assert wait_for(lambda: _accepts(host_port) and len(children(process.pid)) == 1, 60)
        yield f"tcp://{host_port}", env


def _accepts(host_port: str) -> bool:
    import socket

    host, port = host_port.rsplit(":", 1)
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def test_two_tier_start_serves_through_a_tcp_runner(
    runner_server: tuple[str, dict[str, str]],
) -> None:
    address, env = runner_server
    args = ["service:svc", "--runner-map", f'{{"iris_clf": "{address}"}}']
    with serve_subprocess(args, cwd=IRIS, env=env, command="start-http-server") as (url, _):
        assert httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]]).json() == [2]
    # an HTTP client that finds the runner port is told it is not authorised
    answer = httpx.get(address.replace("tcp://", "http://"))
    assert answer.status_code == 401


def test_runner_refuses_a_wrong_token(runner_server: tuple[str, dict[str, str]]) -> None:
    address, env = runner_server
    wrong = {**env, "BENTOML_RUNNER_TOKEN": "guess"}
    args = ["service:svc", "--runner-map", f'{{"iris_clf": "{address}"}}']
    with serve_subprocess(
        args, cwd=IRIS, env=wrong, command="start-http-server", ready_path="/livez"
    ) as (url, _):
        response = httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]])
        assert response.status_code == 503
        assert "BENTOML_RUNNER_TOKEN" in response.json()["error"]["message"]
        assert httpx.get(f"{url}/readyz").status_code == 503


def test_http_tier_refuses_to_start_without_every_runner(iris_env: dict[str, str]) -> None:
    import subprocess

    from tests.support.servers import bentoml_command

    result = subprocess.run(
        [
            *bentoml_command(),
            "start-http-server",
            "service:svc",
            "--runner-map",
            '{"other": "tcp://127.0.0.1:1"}',
        ],
        cwd=IRIS,
        env={**os.environ, **iris_env, "BENTOML_RUNNER_TOKEN": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "iris_clf" in result.stderr


def test_a_runner_that_fails_to_start_is_restarted_with_backoff(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    flag, log = tmp_path / "broken", tmp_path / "starts.log"
    flag.touch()
    env = {
        **home_env,
        "CRASH_FLAG": str(flag),
        "CRASH_LOG": str(log),
        "BENTOML_CONFIG_OPTIONS": "runners.resources.cpu=1",  # one runner worker
    }
    args = ["crashing_service:svc", "--api-workers", "1"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env, ready_path="/livez") as (url, _):
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 503 and "flaky" in ready.json()["error"]["message"]
        time.sleep(8)
        # waits of 0.5, 1, 2 and 4 s between starts: at most five in 8 s (without the
        # backoff, a start every second or so, as fast as the worker can import)
        starts = len(log.read_text().splitlines())
        assert 2 <= starts <= 5, starts
        flag.unlink()  # the model can load now: the next start succeeds
        assert wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 30)
        assert httpx.post(f"{url}/echo", json={"a": 1}).json() == {"a": 1}


def test_two_tier_start_over_tls(iris_env: dict[str, str], tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    ca_file, cert_file = tmp_path / "ca.pem", tmp_path / "runner.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    env = {**iris_env, "BENTOML_RUNNER_TOKEN": "correct horse battery staple"}
    runner_args = ["service:svc", "--runner-name", "iris_clf", "--ssl-certfile", str(cert_file)]
    with serve_subprocess(
        runner_args, cwd=IRIS, env=env, command="start-runner-server", ready_path=""
    ) as (runner_url, runner_process):
        host_port = runner_url.removeprefix("http://")
        assert wait_for(lambda: _accepts(host_port) and len(children(runner_process.pid)) == 1, 60)
        runner_map = f'{{"iris_clf": "tcps://{host_port}"}}'
        trusting = ["service:svc", "--runner-map", runner_map]
        args = [*trusting, "--runner-ssl-ca-certs", str(ca_file)]
        with serve_subprocess(args, cwd=IRIS, env=env, command="start-http-server") as (url, _):
            assert httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]]).json() == [2]
        # without the CA, the runner's certificate is not trusted: 503, never a plain call
        with serve_subprocess(
            trusting, cwd=IRIS, env=env, command="start-http-server", ready_path="/livez"
        ) as (url, _):
            assert httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]]).status_code == 503

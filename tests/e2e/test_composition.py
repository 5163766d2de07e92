"""A composed graph served by ``bentoml serve`` (examples/pipeline): every service in its own
processes under one arbiter, only the entry on a TCP port; a dependency killed, the graph
stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.support.servers import E2E_SERVICES, REPO, serve_subprocess
from tests.support.waiting import wait_for

PIPELINE = REPO / "examples" / "pipeline"
FLOWERS = {
    "flowers": [
        {"sepal_length": 59, "sepal_width": 30, "petal_length": 51, "petal_width": 18},
        {"sepal_length": 51, "sepal_width": 35, "petal_length": 14, "petal_width": 2},
    ]
}


@pytest.fixture(scope="module")
def pipeline(
    iris_env: dict[str, str],
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with serve_subprocess(
        ["service:pipeline", "--api-workers", "1"], cwd=PIPELINE, env=iris_env
    ) as served:
        yield served


def service_workers(arbiter: int, service: str) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(arbiter).children(recursive=True):
        cmdline = child.cmdline()
        if "bentoml_classic.serving.service_worker" in cmdline:
            spec = child.environ().get("BENTOML_WORKER_SPEC", "")
            if f'"service": "{service}"' in spec:
                found.append(child)
    return found


def test_the_pipeline_answers_through_its_dependencies(pipeline: Any) -> None:
    url, _ = pipeline
    assert httpx.post(f"{url}/species", json=FLOWERS).json() == ["virginica", "setosa"]
    # a dependency's BadInput keeps its status and message
    refused = httpx.post(f"{url}/names_of", json=[0, 7])
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "unknown class in [0, 7]"
    assert refused.json()["error"]["detail"]["service"] == "postprocess"


def test_dependency_calls_are_counted_in_the_runner_series(pipeline: Any) -> None:
    """The entry's ``/metrics`` shows each dependency's API calls as ``bentoml_runner_*``
    series named after the dependency (written by its worker a few times a second)."""
    url, _ = pipeline
    assert httpx.post(f"{url}/species", json=FLOWERS).status_code == 200

    def counted() -> bool:
        text = httpx.get(f"{url}/metrics").text
        return any(
            line.startswith("bentoml_runner_request_total{")
            and 'runner_name="model"' in line
            and 'service_name="iris_pipeline"' in line
            and 'http_response_code="200"' in line
            for line in text.splitlines()
        )

    assert wait_for(counted, 10)


def test_only_the_entry_listens_on_tcp(pipeline: Any) -> None:
    url, process = pipeline
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    ports = {
        conn.laddr.port
        for member in family
        for conn in member.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert ports == {int(url.rsplit(":", 1)[1])}
    for service in ("preprocess", "model", "postprocess"):
        assert len(service_workers(process.pid, service)) == 1, service


def test_a_killed_dependency_worker_gives_clean_503s_then_answers(pipeline: Any) -> None:
    url, process = pipeline
    (victim,) = service_workers(process.pid, "model")
    outcomes: list[tuple[float, int, str | None, str]] = []
    stop = threading.Event()

    def call() -> None:
        with httpx.Client(timeout=15) as client:
            while not stop.is_set():
                response = client.post(f"{url}/species", json=FLOWERS)
                outcomes.append(
                    (
                        time.monotonic(),
                        response.status_code,
                        response.headers.get("retry-after"),
                        response.text,
                    )
                )

    callers = [threading.Thread(target=call) for _ in range(3)]
    for caller in callers:
        caller.start()
    try:
        assert wait_for(lambda: len(outcomes) > 3, 10)
        killed_at = time.monotonic()
        victim.kill()
        assert wait_for(
            lambda: any(t > killed_at + 0.2 and status == 200 for t, status, _, _ in outcomes), 20
        ), "no answer within 20 s of the model service's worker being killed"
    finally:
        stop.set()
        for caller in callers:
            caller.join(30)
    assert {status for _, status, _, _ in outcomes} <= {200, 503}
    for _, status, retry_after, text in outcomes:
        if status == 503:
            assert retry_after == "1" and "service 'model'" in text, text
    (replacement,) = service_workers(process.pid, "model")
    assert replacement.pid != victim.pid


def test_sigterm_stops_the_whole_graph(pipeline: Any) -> None:
    """Last in this module: it stops the module's server."""
    _url, process = pipeline
    family = psutil.Process(process.pid).children(recursive=True)
    assert len(family) >= 5  # API worker, three services, the runner
    socket_dirs = {
        os.path.dirname(conn.laddr)
        for member in family
        for conn in member.net_connections(kind="unix")
        if conn.laddr and "bentoml-sockets-" in conn.laddr
    }
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert wait_for(lambda: not any(p.is_running() and p.status() != "zombie" for p in family), 10)
    assert socket_dirs and not any(os.path.exists(d) for d in socket_dirs)


def test_a_diamond_in_development_runs_in_one_process(iris_env: dict[str, str]) -> None:
    """``--development``: the whole graph in one process, through the same call path."""
    args = ["service:diamond", "--development"]
    with serve_subprocess(args, cwd=PIPELINE, env=iris_env) as (url, process):
        answer = httpx.post(f"{url}/ratios", json=FLOWERS).json()
        assert answer == {"sepal": [1.967, 1.457], "petal": [2.833, 7.0]}
        assert psutil.Process(process.pid).children(recursive=True) == []


def test_a_diamond_in_production_serves_the_shared_dependency_once(
    iris_env: dict[str, str],
) -> None:
    """``bentoml serve``: ``sepal`` and ``petal`` both call ``preprocess``, whose workers are
    started once and answer both. On SIGTERM each caller stops before what it calls: were
    ``preprocess`` stopped before ``petal`` (breadth-first order put it there), it would wait
    the whole grace period for ``petal``'s connection to close; here that is 300 s."""
    args = ["service:diamond", "--api-workers", "1"]
    env = {**iris_env, "BENTOML_CONFIG_OPTIONS": "api_server.graceful_shutdown_timeout=300"}
    with serve_subprocess(args, cwd=PIPELINE, env=env) as (url, process):
        answer = httpx.post(f"{url}/ratios", json=FLOWERS).json()
        assert answer == {"sepal": [1.967, 1.457], "petal": [2.833, 7.0]}
        for service in ("sepal", "petal", "preprocess"):
            assert len(service_workers(process.pid, service)) == 1, service
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_one_service_alone_on_tcp_called_through_the_runner_map(home_env_dir: Path) -> None:
    """start-service-server serves ``back`` on TCP (the runner servers' token rules: on one host
    the generated token); start-http-server's runner map names its address."""
    env = {"BENTOML_HOME": str(home_env_dir)}
    args = ["compose_service:front", "--service-name", "back"]
    with serve_subprocess(
        args, cwd=E2E_SERVICES, env=env, command="start-service-server", ready_path=""
    ) as (url, _):
        address = f"tcp://{url.removeprefix('http://')}"
        assert wait_for(lambda: _accepts(address), 30)
        front_env = {**env, "BENTOML_RUNNER_MAP": json.dumps({"back": address})}
        front_args = ["compose_service:front", "--api-workers", "1"]
        with serve_subprocess(
            front_args, cwd=E2E_SERVICES, env=front_env, command="start-http-server"
        ) as (front_url, _):
            answer = httpx.post(f"{front_url}/doubled", json=[1, 2.5])
            assert answer.json() == {"doubled": [2, 5.0]}
        # without the token, the service's port reads nothing and answers HTTP with a 401
        assert httpx.get(url).status_code == 401


def test_one_service_alone_over_tls(home_env_dir: Path, tmp_path: Path) -> None:
    """start-service-server --ssl-certfile serves ``back`` over TLS, as a runner server does: a
    caller that trusts the CA and has the token is answered over tcps://, one that does not
    trust it is refused."""
    import trustme

    from bentoml_classic.exceptions import ServiceUnavailable
    from bentoml_classic.protocol.remote import RemoteRunnerHandle
    from bentoml_classic.protocol.tls import client_context

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server_pem = ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem
    server_pem.write_to_path(str(tmp_path / "server.pem"))
    token = "tls-test-token-0123456789"
    args = ["compose_service:front", "--service-name", "back", "--token", token]
    args += ["--ssl-certfile", str(tmp_path / "server.pem")]
    env = {"BENTOML_HOME": str(home_env_dir)}
    with serve_subprocess(
        args, cwd=E2E_SERVICES, env=env, command="start-service-server", ready_path=""
    ) as (url, _):
        address = f"tcps://{url.removeprefix('http://')}"
        trusted = RemoteRunnerHandle(
            "back",
            [address],
            token=token.encode(),
            timeout=5,
            ssl_context=client_context(str(tmp_path / "ca.pem")),
        )
        stranger = RemoteRunnerHandle("back", [address], token=token.encode(), timeout=5)
        try:
            assert wait_for(lambda: _answers(trusted), 30)
            assert trusted.run_method("double", ([1, 2.5],), {}) == [2, 5.0]
            with pytest.raises(ServiceUnavailable):  # the system's CAs do not know ours
                stranger.run_method("double", ([1],), {})
        finally:
            trusted.close()
            stranger.close()


def _answers(handle: Any) -> bool:
    from bentoml_classic.exceptions import ServiceUnavailable

    try:
        return bool(handle.run_method("double", ([1],), {}) == [2])
    except ServiceUnavailable:
        return False


def _accepts(address: str) -> bool:
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def home_env_dir(tmp_path: Path) -> Path:
    return tmp_path / "home"

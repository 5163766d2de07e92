"""The gRPC tier's life around its runners, over real gRPC and real processes: health says
NOT_SERVING until the runner answers; a call whose runner worker is killed (``kill -9``) is
UNAVAILABLE, and the API worker goes on serving once Circus has restarted the runner; the
two-tier ``bentoml start-grpc-server`` serves through a ``start-runner-server`` on this host.

The runner of ``runner_service.py`` waits for a gate file (``INIT_GATE``) before it is ready,
so that the test, not the machine's load, decides when it becomes ready; it notes each call it
starts in a marker file (``SLEEP_MARKER``), so that the test kills the runner that holds one.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

grpc = pytest.importorskip("grpc")

from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from bentoml_classic.client import GrpcClient  # noqa: E402
from bentoml_classic.client.grpc_client import wait_until_serving  # noqa: E402
from bentoml_classic.grpc.v1 import service_pb2 as pb  # noqa: E402
from bentoml_classic.grpc.v1 import service_pb2_grpc  # noqa: E402
from tests.support.servers import E2E_SERVICES, IRIS, free_port, serve_subprocess  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

#: a bound for anything the servers should do soon, on a loaded 2-core machine
START_TIMEOUT = 90.0


class GatedServer:
    """``bentoml serve-grpc runner_service:svc`` with one API worker, its runner held back by
    the gate file until ``open_gate()``."""

    def __init__(self, address: str, process: Any, gate: Path, marker: Path) -> None:
        self.address = address
        self.process = process
        self.gate = gate
        self.marker = marker
        self.channel = grpc.insecure_channel(address)
        self.stub = service_pb2_grpc.BentoServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def open_gate(self) -> None:
        self.gate.touch()

    def health_status(self) -> str:
        answer = self.health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))

    def sleep(self, seconds: float, timeout: float = 30) -> Any:
        body = json.dumps({"seconds": seconds}).encode()
        return self.stub.Call(pb.Request(api_name="sleep", serialized_bytes=body), timeout=timeout)

    def role(self, module: str) -> list[psutil.Process]:
        """The server's live processes that run ``serving.<module>``."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):  # one that died meanwhile (a zombie)
                if f"serving.{module}" in " ".join(child.cmdline()):
                    found.append(child)
        return found


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatedServer]:
    tmp = tmp_path_factory.mktemp("grpc_lifecycle")
    gate, marker = tmp / "runner-may-start", tmp / "sleeping-runners"
    env = {
        "BENTOML_HOME": str(tmp / "home"),
        "INIT_GATE": str(gate),
        "SLEEP_MARKER": str(marker),
        "BENTOML_CONFIG_OPTIONS": f"api_server.grpc.metrics.port={free_port()}",
    }
    port = free_port()
    with serve_subprocess(
        ["runner_service:svc", "--api-workers", "1"],
        cwd=E2E_SERVICES,
        env=env,
        command="serve-grpc",
        ready_path="",
        port=port,
    ) as (_, process):
        server = GatedServer(f"127.0.0.1:{port}", process, gate, marker)
        try:
            grpc.channel_ready_future(server.channel).result(timeout=START_TIMEOUT)
            yield server
        finally:
            server.channel.close()


def test_health_is_not_serving_until_the_runner_answers(gated: GatedServer) -> None:
    # the port answers, the runner waits for its gate: not ready, for the whole server and
    # for the service by name
    assert gated.health_status() == "NOT_SERVING"
    answer = gated.health.Check(
        health_pb2.HealthCheckRequest(service="bentoml.grpc.v1.BentoService"), timeout=10
    )
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
    gated.open_gate()
    wait_until_serving(gated.address, timeout=START_TIMEOUT)
    assert gated.health_status() == "SERVING"
    assert gated.sleep(0).json.struct_value["slept"] == 0


def test_killed_runner_is_unavailable_then_served_again(gated: GatedServer) -> None:
    gated.open_gate()
    wait_until_serving(gated.address, timeout=START_TIMEOUT)
    workers = {worker.pid for worker in gated.role("grpc_worker")}
    runners = gated.role("runner_worker")
    assert workers and runners
    outcome: list[Any] = []

    def long_call() -> None:
        try:
            outcome.append(gated.sleep(30, timeout=60))
        except grpc.RpcError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=long_call)
    caller.start()
    try:
        # the runner that took the call writes its pid to the marker before it sleeps
        assert wait_for(gated.marker.exists, 30), "the call never reached a runner"
        holder = int(gated.marker.read_text().split()[0])
        assert holder in {runner.pid for runner in runners}
        psutil.Process(holder).kill()
    finally:
        caller.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], grpc.RpcError), outcome
    assert outcome[0].code() == grpc.StatusCode.UNAVAILABLE, outcome[0].details()
    # Circus restarts the runner (the gate is open); the same API worker serves again
    assert wait_for(lambda: _answers(gated), START_TIMEOUT, interval=0.2)
    assert {worker.pid for worker in gated.role("grpc_worker")} == workers


def _answers(gated: GatedServer) -> bool:
    try:
        gated.sleep(0, timeout=5)
    except grpc.RpcError:
        return False
    return True


# -- the two tiers apart -------------------------------------------------------------------------


def test_start_grpc_server_serves_through_a_runner_server(iris_env: dict[str, str]) -> None:
    env = {
        **iris_env,
        "BENTOML_RUNNER_TOKEN": "correct horse battery staple",
        "BENTOML_CONFIG_OPTIONS": f"api_server.grpc.metrics.port={free_port()}",
    }
    runner_port = free_port()
    with serve_subprocess(
        ["service:svc", "--runner-name", "iris_clf"],
        cwd=IRIS,
        env=env,
        command="start-runner-server",
        ready_path="",
        port=runner_port,
    ):
        runner_map = json.dumps({"iris_clf": f"tcp://127.0.0.1:{runner_port}"})
        grpc_port = free_port()
        with serve_subprocess(
            ["service:svc", "--runner-map", runner_map],
            cwd=IRIS,
            env=env,
            command="start-grpc-server",
            ready_path="",
            port=grpc_port,
        ):
            wait_until_serving(f"127.0.0.1:{grpc_port}", timeout=START_TIMEOUT)
            with GrpcClient.from_url(f"127.0.0.1:{grpc_port}") as client:
                assert client.health() == "SERVING"
                answer = client.classify(np.array([[5.9, 3.0, 5.1, 1.8]]))
                assert answer.tolist() == [2]

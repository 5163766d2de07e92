"""A Triton runner in the production topology: ``bentoml serve`` of examples/triton, its
``tritonserver`` under the arbiter, killed and stopped; the two-tier start; a refused start.

One ``bentoml serve`` serves the module; the SIGTERM test stops it, so it comes last.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.servers import bentoml_command, free_port, serve_subprocess
from tests.support.triton import EXAMPLE, write_tritonserver
from tests.support.waiting import wait_for

ROWS = [[1, 2, 3, 4], [5, 6, 7, 8]]
PLUS_ONE = [[2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0]]


@pytest.fixture(scope="module")
def triton_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    command = write_tritonserver(tmp_path_factory.mktemp("tritonserver"))
    return {
        "BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml_home")),
        "BENTOML_TRITONSERVER": str(command),
        "BENTOML_RUNNER_TOKEN": "triton tier token",
    }


@pytest.fixture(scope="module")
def served(triton_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    args = ["service:svc", "--api-workers", "1"]
    with serve_subprocess(args, cwd=EXAMPLE, env=triton_env, ready_timeout=90) as server:
        yield server


def tritonservers(root: int) -> list[psutil.Process]:
    """The ``tritonserver`` processes under ``root`` (the wrapper execs the binary)."""
    return [
        child
        for child in psutil.Process(root).children(recursive=True)
        if child.name() == "tritonserver"
    ]


def test_answers_through_bentoml_serve(served: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, process = served
    assert httpx.post(f"{url}/add_one", json=ROWS).json() == PLUS_ONE
    assert httpx.post(f"{url}/add_one_sync", json=ROWS[:1]).json() == PLUS_ONE[:1]
    assert len(tritonservers(process.pid)) == 1


def test_a_wrong_shape_is_a_400_naming_model_and_input(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _ = served
    answer = httpx.post(f"{url}/add_one", json=[[1, 2, 3]])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "BadInput"
    assert "input 'INPUT0' for model 'add_one'" in error["message"]
    assert error["detail"] == {"runner": "triton_runner", "model": "add_one", "input": "INPUT0"}
    assert httpx.post(f"{url}/add_one", json=ROWS).json() == PLUS_ONE


def test_kill_9_restarts_tritonserver_and_calls_meanwhile_get_503(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = served
    (killed,) = tritonservers(process.pid)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)  # gone before the first call, which so cannot be its last answer
    answers: list[httpx.Response] = []

    def answered_again() -> bool:
        answers.append(httpx.post(f"{url}/add_one", json=ROWS, timeout=10))
        return answers[-1].status_code == 200

    assert wait_for(answered_again, timeout=60, interval=0.1)
    unavailable = [answer for answer in answers if answer.status_code != 200]
    assert unavailable, "a call right after kill -9 was answered: nothing was killed?"
    for answer in unavailable:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["detail"] == {"runner": "triton_runner"}
    assert answers[-1].json() == PLUS_ONE
    assert [p.pid for p in tritonservers(process.pid)] != [killed.pid]
    assert httpx.get(f"{url}/readyz").status_code == 200


def test_two_tier_start_reaches_triton_through_the_runner_protocol(
    triton_env: dict[str, str],
) -> None:
    runner_port = free_port()
    runner_args = ["service:svc", "--runner-name", "triton_runner", "--port", str(runner_port)]
    with subprocess.Popen(
        [*bentoml_command(), "start-runner-server", *runner_args],
        cwd=EXAMPLE,
        env={**os.environ, **triton_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as runner_server:
        try:
            runner_map = f'{{"triton_runner": "tcp://127.0.0.1:{runner_port}"}}'
            http_args = ["service:svc", "--runner-map", runner_map, "--api-workers", "1"]
            with serve_subprocess(
                http_args, cwd=EXAMPLE, env=triton_env, command="start-http-server",
                ready_timeout=90,
            ) as (url, _):  # fmt: skip
                assert httpx.post(f"{url}/add_one", json=ROWS).json() == PLUS_ONE
                # concurrent calls travel as batches: a bad one fails alone
                bodies = [ROWS if i % 4 else [[1.0, 2.0]] for i in range(16)]
                with ThreadPoolExecutor(8) as pool:
                    answers = list(
                        pool.map(lambda body: httpx.post(f"{url}/add_one", json=body), bodies)
                    )
                assert [a.status_code for a in answers] == [
                    200 if i % 4 else 400 for i in range(16)
                ]
                assert all(a.json() == PLUS_ONE for a in answers if a.status_code == 200)
                bad = httpx.post(f"{url}/add_one_sync", json=[[1.0]])
                assert bad.status_code == 400
                assert bad.json()["error"]["detail"]["input"] == "INPUT0"
                assert "model 'add_one'" in bad.json()["error"]["message"]
            assert len(tritonservers(runner_server.pid)) == 1
        finally:
            os.killpg(runner_server.pid, signal.SIGTERM)
            runner_server.wait(timeout=60)


def test_serve_stops_when_triton_refuses_its_cli_args(
    triton_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "refused.py").write_text(
        "import bentoml_classic as bentoml\n"
        f"runner = bentoml.triton.Runner('picky_runner', {str(EXAMPLE / 'model_repository')!r},"
        " cli_args=['--no-such-option=1'])\n"
        "svc = bentoml.Service('refused', runners=[runner])\n"
    )
    finished = subprocess.run(
        [*bentoml_command(), "serve", "refused:svc", "--port", str(free_port())],
        cwd=tmp_path,
        env={**os.environ, **triton_env},
        capture_output=True,
        timeout=90,
    )
    assert finished.returncode != 0
    output = finished.stderr.decode()
    assert "Triton runner 'picky_runner'" in output
    assert "unrecognized option '--no-such-option=1'" in output


def test_sigterm_stops_tritonserver_with_the_rest(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    _, process = served
    everything = psutil.Process(process.pid).children(recursive=True)
    stubs = [p for p in everything if "triton_python_backend_stub" in " ".join(p.cmdline())]
    assert tritonservers(process.pid) and stubs
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=90)
    assert wait_for(lambda: not any(p.is_running() for p in everything), timeout=30)

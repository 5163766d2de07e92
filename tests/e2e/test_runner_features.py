"""Runner features over HTTP, in the production topology (runner workers in processes of their
own) and with ``--development`` (runners in the API process): streams from generator methods,
Python objects to and from runners, and ``Model.with_options``."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from tests.support.process_roles import role_of
from tests.support.servers import E2E_SERVICES, serve_subprocess
from tests.support.waiting import wait_until

SAVE_RIDGE = """
import numpy as np
from sklearn.linear_model import BayesianRidge
import bentoml_classic as bentoml

x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])
bentoml.sklearn.save_model("ridge", BayesianRidge().fit(x, x.sum(axis=1)))
"""

X = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]]


@dataclasses.dataclass
class Server:
    url: str
    pid: int
    production: bool


@pytest.fixture(scope="module")
def gate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gates")


@pytest.fixture(scope="module")
def features_env(tmp_path_factory: pytest.TempPathFactory, gate_dir: Path) -> dict[str, str]:
    """A model store with the ``ridge`` model that the service's with_options runner uses."""
    home = tmp_path_factory.mktemp("bentoml_home")
    env = {"BENTOML_HOME": str(home), "GATE_DIR": str(gate_dir)}
    subprocess.run(
        [sys.executable, "-c", SAVE_RIDGE], env={**os.environ, **env}, check=True, timeout=120
    )
    return env


@pytest.fixture(scope="module", params=["production", "development"])
def server(request: pytest.FixtureRequest, features_env: dict[str, str]) -> Iterator[Server]:
    args = ["runner_features_service:svc"]
    if request.param == "development":
        args.append("--development")
    with serve_subprocess(args, cwd=E2E_SERVICES, env=features_env, ready_timeout=120) as (
        base_url,
        process,
    ):
        yield Server(base_url, process.pid, request.param == "production")


@pytest.fixture
def url(server: Server) -> str:
    return server.url


def is_runner_worker(pid: int) -> bool:
    return role_of(psutil.Process(pid)) == "runner"


def post(url: str, path: str, **kwargs: object) -> httpx.Response:
    response = httpx.post(f"{url}/{path}", timeout=60, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response


# -- Model.with_options --------------------------------------------------------------------------


def test_with_options_binds_keywords_in_every_topology(url: str) -> None:
    answer = post(url, "ridge_predict", json=X).json()
    # return_std=True reached predict wherever the model runs: it answered a pair
    assert len(answer["mean"]) == 3 and len(answer["std"]) == 3
    assert all(std > 0 for std in answer["std"])
    np.testing.assert_allclose(answer["mean"], [sum(row) for row in X], atol=0.5)


# -- objects -------------------------------------------------------------------------------------


def test_pydantic_models_cross_both_ways(server: Server) -> None:
    receipt = post(server.url, "price", json={"item": "tea", "quantity": 4}).json()
    assert (receipt["item"], receipt["total"]) == ("tea", 10.0)
    # built in a runner worker (production), or in the API process (development)
    assert is_runner_worker(receipt["runner_pid"]) is server.production


def test_dataclasses_dicts_and_plain_classes_cross(url: str) -> None:
    moved = post(url, "move", json={"point": {"x": 1, "y": 2}, "by": {"x": 0.5, "y": -1}}).json()
    assert moved == {"x": 1.5, "y": 1.0}
    relabelled = post(url, "relabel", json={"label": "abc", "values": [3, 1]}).json()
    assert relabelled == {"label": "ABC", "values": [3, 1, 2]}


def test_a_file_upload_is_read_in_a_batchable_runner_method(server: Server) -> None:
    data = os.urandom(200_000)
    answer = post(
        server.url, "file_size", files={"file": ("photo.bin", data, "application/octet-stream")}
    ).json()
    assert (answer["name"], answer["size"]) == ("photo.bin", len(data))
    # in production the runner read it in its own process
    assert (answer["pid"] != answer["api_pid"]) is server.production
    assert is_runner_worker(answer["pid"]) is server.production
    raw = post(server.url, "file_size", content=b"raw body").json()
    assert (raw["name"], raw["size"]) == ("<request body>", 8)


# -- streams -------------------------------------------------------------------------------------


def test_streams_of_sync_and_async_generators(url: str) -> None:
    assert post(url, "words", content="a b c").json() == {
        "sync_generator": ["a", "b", "c"],
        "async_generator": ["a", "b", "c"],
    }
    assert post(url, "words_from_sync_api", content="d e").json() == {
        "stream": ["d", "e"],
        "run": ["d", "e"],
    }


def test_the_first_item_arrives_before_the_second_is_produced(url: str, gate_dir: Path) -> None:
    name = f"gate-{os.urandom(4).hex()}"
    assert post(url, "gated", content=name).json() == ["first", "second"]
    assert (gate_dir / name).exists()


def test_an_api_streams_a_runner_stream_on_to_the_client(url: str, gate_dir: Path) -> None:
    """Runner worker -> API worker -> HTTP client, each item as it comes: the client has the
    first before the generator can make the second (it waits for a file the client writes)."""
    name = f"gate-{os.urandom(4).hex()}"
    with httpx.stream("POST", f"{url}/gated_text", content=name, timeout=60) as response:
        assert response.status_code == 200
        chunks = response.iter_text()
        assert next(chunks) == "first"
        (gate_dir / name).touch()
        assert "".join(chunks) == "second"
    assert post(url, "words_text", content="a b c").text == "abc"


def test_an_error_mid_stream_comes_after_the_items(url: str) -> None:
    answer = post(url, "fail_after", json=2).json()
    assert answer["items"] == [0, 1]
    assert answer["type"] == "ValueError"
    assert "failed after 2 items" in answer["error"]


@pytest.mark.parametrize("path", ["first_of_endless", "first_of_endless_sync"])
def test_leaving_a_stream_early_closes_the_generator(url: str, gate_dir: Path, path: str) -> None:
    name = f"closed-{os.urandom(4).hex()}"
    assert post(url, path, content=name).json() == 0
    wait_until(lambda: (gate_dir / name).exists(), "the runner closed the generator")
    assert httpx.get(f"{url}/readyz").status_code == 200

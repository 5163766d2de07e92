"""examples/torch as its README runs it: train, `bentoml serve service:svc`, POST rows.

The production topology: a custom numpy Runnable (two single-threaded workers) feeding the
PyTorch MLP's runner (one multi-threaded worker), both batching; bad input answered with 400s
that name what was expected, whether the API's descriptor or the model's input_spec refuses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytest.importorskip("torch", reason="the torch extra is not installed")

from tests.support.servers import REPO, serve_subprocess

EXAMPLE = REPO / "examples" / "torch"
ROW = [5, 10, 30, 60, 150, 300, 600, 1000]


@pytest.fixture(scope="module")
def torch_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("torch_home"))}
    trained = subprocess.run(
        [sys.executable, "train.py"],
        cwd=EXAMPLE,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stderr
    assert "Model saved: torch_mlp:" in trained.stdout
    return env


@pytest.fixture(scope="module")
def url(torch_env: dict[str, str]) -> Iterator[str]:
    with serve_subprocess(
        ["service:svc", "--api-workers", "1"], cwd=EXAMPLE, env=torch_env, ready_timeout=180
    ) as (base_url, _process):
        yield base_url


def expected_classes(torch_env: dict[str, str], rows: list[list[float]]) -> list[int]:
    """The model's answer computed here, from the store, without the server."""
    script = (
        "import json, sys, numpy as np, torch\n"
        "import bentoml_classic as bentoml\n"
        "model = bentoml.pytorch.get('torch_mlp:latest')\n"
        "stats = model.custom_objects['feature_stats']\n"
        "rows = (np.array(json.loads(sys.argv[1])) - stats['mean']) / stats['std']\n"
        "out = bentoml.pytorch.load_model(model).predict(torch.from_numpy(rows).float())\n"
        "print(json.dumps(out.tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(rows)],
        cwd=EXAMPLE,
        env={**os.environ, **torch_env},
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(c) for c in json.loads(done.stdout)]


def test_classify_answers_what_the_model_computes(url: str, torch_env: dict[str, str]) -> None:
    rows = [ROW, [1, 2, 3, 4, 5, 6, 7, 8], [9, 30, 20, 80, 100, 500, 700, 900]]
    response = httpx.post(f"{url}/classify", json=rows, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == expected_classes(torch_env, rows)


def test_concurrent_requests_are_answered_each_with_its_own_row(url: str) -> None:
    rows = [[float(i + k) for k in range(8)] for i in range(24)]
    single = [httpx.post(f"{url}/classify", json=[row], timeout=60).json() for row in rows[:4]]
    with ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(lambda row: httpx.post(f"{url}/classify", json=[row], timeout=60), rows)
        )
    assert all(a.status_code == 200 for a in answers)
    assert [a.json() for a in answers[:4]] == single
    assert all(len(a.json()) == 1 for a in answers)


def test_integer_rows_are_accepted_by_a_float32_model(url: str) -> None:
    response = httpx.post(f"{url}/classify_standardized", json=[[0, 0, 0, 0, 0, 0, 0, 1]])
    assert response.status_code == 200, response.text
    assert response.json()[0] in (0, 1, 2)


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/classify_standardized", [[0.0] * 7], "shape (-1, 8)"),
        ("/classify_standardized", [["a"] * 8], "dtype float32"),
        ("/classify", [[1, 2, 3]], "[-1, 8]"),
    ],
)
def test_bad_rows_are_a_400_naming_what_was_expected(
    url: str, path: str, body: object, named: str
) -> None:
    response = httpx.post(f"{url}{path}", json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    # and the server goes on serving
    assert httpx.post(f"{url}/classify", json=[ROW], timeout=60).status_code == 200

"""The README's quickstart as a new user runs it: train, `bentoml serve service:svc`, curl."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import IRIS, bentoml_command, serve_subprocess


@pytest.fixture(scope="module")
def iris_url(iris_env: dict[str, str]) -> Iterator[str]:
    with serve_subprocess(["service:svc"], cwd=IRIS, env=iris_env) as (url, _process):
        yield url


def test_curl_from_the_readme_returns_a_prediction(iris_url: str) -> None:
    response = httpx.post(
        f"{iris_url}/classify",
        content="[[5.9,3,5.1,1.8]]",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.text == "[2]"


def test_several_rows(iris_url: str) -> None:
    response = httpx.post(f"{iris_url}/classify", json=[[5.1, 3.5, 1.4, 0.2], [5.9, 3, 5.1, 1.8]])
    assert response.json() == [0, 2]


def test_docs_json_describes_classify(iris_url: str) -> None:
    document = httpx.get(f"{iris_url}/docs.json").json()
    schema = document["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["items"]["maxItems"] == 4


def test_the_async_flavour_of_the_example_answers_alike(iris_env: dict[str, str]) -> None:
    with serve_subprocess(["service_async:svc"], cwd=IRIS, env=iris_env) as (url, _process):
        rows = [[5.1, 3.5, 1.4, 0.2], [5.9, 3, 5.1, 1.8]]
        with httpx.Client(base_url=url) as client:
            assert client.post("/classify", json=rows).json() == [0, 2]
            bad = client.post("/classify", json=[[1, 2, 3]])
            assert bad.status_code == 400
            assert "shape" in bad.json()["error"]["message"]
            assert client.post("/classify", json=rows[:1]).json() == [0]


def test_models_cli_lists_the_trained_model(iris_env: dict[str, str]) -> None:
    result = subprocess.run(
        [*bentoml_command(), "models", "list"],
        env={**os.environ, **iris_env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "iris_clf:" in result.stdout


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bentoml_classic", "serve", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "MODULE:SVC" in result.stdout

"""Fixtures for tests that start real servers: a model store with the iris model in it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.servers import IRIS


@pytest.fixture(scope="session")
def iris_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """BENTOML_HOME with the iris classifier trained and saved by the example's train.py."""
    home = tmp_path_factory.mktemp("bentoml_home")
    env = {"BENTOML_HOME": str(home)}
    subprocess.run(
        [sys.executable, "train.py"], cwd=IRIS, env={**os.environ, **env}, check=True, timeout=120
    )
    return env

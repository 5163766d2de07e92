"""The tests' ``tritonserver``: the server inside the nvidia-pytriton wheel that ``make install``
puts in ``.venv/pytriton``, behind the command ``examples/triton/tritonserver_from_pytriton.py``
writes (its python-backend models run in ``.venv/triton-models``, which has numpy 1: the
wheel's stub is built against it).

Tests skip only where the wheel cannot be installed (it is manylinux x86_64 only); on such a
machine without it, they fail and say to run ``make install``.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO

EXAMPLE = REPO / "examples" / "triton"
VENV = Path(sys.prefix)
PYTRITON = VENV / "pytriton"
MODELS_PYTHON = VENV / "triton-models" / "bin" / "python"


def write_tritonserver(out_dir: Path) -> Path:
    """Write the tests' ``tritonserver`` command into ``out_dir``; its path."""
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        pytest.skip("the nvidia-pytriton wheel (the tests' tritonserver) is for Linux x86_64 only")
    if not PYTRITON.is_dir() or not MODELS_PYTHON.is_file():
        pytest.fail(f"no tritonserver for the Triton tests: run `make install` ({PYTRITON})")
    spec = importlib.util.spec_from_file_location(
        "tritonserver_from_pytriton", EXAMPLE / "tritonserver_from_pytriton.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    command: Path = module.write_tritonserver(PYTRITON, out_dir, python=str(MODELS_PYTHON))
    return command

"""The guide's ControlNet example (examples/controlnet) served by ``bentoml serve``: two class
services, each in processes of its own, only the entry on a TCP port; an image and a ``Params``
JSON part in, an image out."""

from __future__ import annotations

import io
import json
import os
import runpy
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import PIL.Image
import psutil
import pytest

from tests.support.servers import (
    REPO,
    free_port,
    read_output,
    stop_process_group,
    wait_until_ready,
)

CONTROLNET = REPO / "examples" / "controlnet"


#: ``bentoml serve service:ControlNet`` as Python (the CLI is run by the guide's page,
#: docs/guide/class_services.md); the decorator asks for 8 entry workers, the argument wins
SERVE = """
import sys
from bentoml_classic.serving import serve_http_production
serve_http_production("service:ControlNet", ".", port=int(sys.argv[1]), api_workers=1)
"""


@pytest.fixture(scope="module")
def controlnet(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    home = tmp_path_factory.mktemp("bentoml_home")
    port = free_port()
    output = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        cwd=CONTROLNET,
        env={**os.environ, "BENTOML_HOME": str(home)},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/readyz", timeout=60, is_alive=lambda: process.poll() is None)
        yield url, process
    except (RuntimeError, TimeoutError):
        raise RuntimeError(read_output(output)) from None
    finally:
        stop_process_group(process)
        output.close()


def _png(size: int = 24) -> bytes:
    # a bright square on black: its edges are what the stand-in pipeline tints
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    pixels[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 200
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _generate(url: str, params: Any, image: bytes | None = None) -> httpx.Response:
    files = {
        "image": ("input.png", _png() if image is None else image, "image/png"),
        "params": (None, json.dumps(params), "application/json"),
    }
    return httpx.post(f"{url}/generate", files=files, timeout=30)


def test_an_image_and_params_give_an_image_back(controlnet: Any) -> None:
    url, _ = controlnet
    answer = _generate(url, {"prompt": "a cat", "negative_prompt": None})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    image = PIL.Image.open(io.BytesIO(answer.content))
    assert image.size == (24, 24)
    assert np.array_equal(np.asarray(image.convert("RGB")), _expected("a cat"))


def _expected(prompt: str) -> np.ndarray:
    """What the example computes in one process: its stand-ins, called directly."""
    stand_ins = runpy.run_path(str(CONTROLNET / "stand_ins.py"))
    pixels = np.asarray(PIL.Image.open(io.BytesIO(_png())))
    edges = stand_ins["cv2"].Canny(pixels, 100, 200)
    control = PIL.Image.fromarray(np.concatenate([edges[:, :, None]] * 3, axis=2))
    output = stand_ins["ControlNetPipeline"]()(prompt, image=control)
    expected: np.ndarray = np.asarray(output.images[0])
    assert len(np.unique(expected.reshape(-1, 3), axis=0)) == 2  # edges and the rest
    return expected


def test_a_missing_param_field_is_a_400_naming_it(controlnet: Any) -> None:
    url, _ = controlnet
    answer = _generate(url, {"negative_prompt": None})
    assert answer.status_code == 400
    assert "params.prompt" in answer.json()["error"]["message"]


def test_each_service_in_its_own_processes_only_the_entry_on_tcp(controlnet: Any) -> None:
    _, process = controlnet
    children = psutil.Process(process.pid).children(recursive=True)
    dependency = [c for c in children if "bentoml_classic.serving.service_worker" in c.cmdline()]
    assert len(dependency) == 1  # workers=1 in its decorator
    environ = dependency[0].environ()
    spec = json.loads(environ["BENTOML_WORKER_SPEC"])
    assert spec["service"] == "sdxlcontrolnetservice"
    # resources={"gpu": "1"}: its workers get a GPU id (or "" on a machine without a GPU)
    assert "CUDA_VISIBLE_DEVICES" in environ
    # traffic={"timeout": 600} of both decorators, under the keys nothing else set
    config = spec["config"]
    assert config["services"]["sdxlcontrolnetservice"]["traffic"]["timeout"] == 600
    assert config["api_server"]["traffic"]["timeout"] == 600
    listening = {
        conn.laddr.port
        for child in [psutil.Process(process.pid), *children]
        for conn in child.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    }
    assert len(listening) == 1

"""A numpy-only service that reports which heavy modules its API worker and its runner worker
have imported: for the test that each process of the tree imports only what it needs."""

from __future__ import annotations

import json
import sys

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray, Text

#: what no process of this service has any use for, or only some of them
WATCHED = (
    "pandas",
    "pyarrow",
    "torch",
    "sklearn",
    "scipy",
    "PIL",
    "pydantic",
    "starlette",
    "uvicorn",
    "httptools",
    "circus",
    "zmq",
    "bentoml_classic.http",
    "bentoml_classic.config",
    "bentoml_classic.client",
    "bentoml_classic.io.pandas",
    "bentoml_classic.io.pandas_series",
    "bentoml_classic.io.image",
    "bentoml_classic.io.json",
    "bentoml_classic.io.multipart",
)


def loaded() -> list[str]:
    return [name for name in WATCHED if name in sys.modules]


class Probe(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = True  # one worker is enough

    @bentoml.Runnable.method
    def loaded(self, x: np.ndarray) -> list[str]:
        return loaded()


runner = bentoml.Runner(Probe, name="probe")
svc = bentoml.Service("imports_service", runners=[runner])


@svc.api(input=NumpyNdarray(), output=Text())
async def modules(x: np.ndarray) -> str:
    return json.dumps({"api": loaded(), "runner": await runner.loaded.async_run(x)})

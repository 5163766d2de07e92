"""A service with batchable runner methods that check and report the batches they get."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import JSON, NumpyNdarray

MAX_BATCH = int(os.environ.get("MAX_BATCH", "8"))


class Doubler(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = True  # one worker: every call meets in one queue

    def _check(self, x: np.ndarray) -> None:
        if len(x) > MAX_BATCH:
            raise AssertionError(f"got a batch of {len(x)} rows, more than {MAX_BATCH}")
        time.sleep(float(os.environ.get("BATCH_SLEEP", "0")))

    @bentoml.Runnable.method(batchable=True)
    def double(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        return x * 2

    @bentoml.Runnable.method(batchable=True)
    def pair(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._check(x)
        return x * 2, x + 1


runner = bentoml.Runner(Doubler, name="doubler", max_batch_size=MAX_BATCH)
svc = bentoml.Service("batching_service", runners=[runner])


@svc.api(input=NumpyNdarray(dtype="float64"), output=NumpyNdarray())
def double(x: np.ndarray) -> np.ndarray:
    return runner.double.run(x)


@svc.api(input=NumpyNdarray(dtype="float64"), output=NumpyNdarray())
async def async_double(x: np.ndarray) -> np.ndarray:
    return await runner.double.async_run(x)


@svc.api(input=NumpyNdarray(dtype="float64"), output=JSON())
def pair(x: np.ndarray) -> dict[str, Any]:
    doubled, plus_one = runner.pair.run(x)
    return {"doubled": doubled.tolist(), "plus_one": plus_one.tolist()}

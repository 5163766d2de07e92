"""The Triton example's model as one of our runners, for bench_triton.py: ``x + 1`` over rows of
4 float32 numbers in numpy, batched by our adaptive batching as Triton's dynamic batcher batches
``add_one``; the same API (``/add_one``, the same descriptors) as examples/triton/service.py."""

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray


class AddOne(bentoml.Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    @bentoml.Runnable.method(batchable=True, batch_dim=0)
    def add_one(self, rows: np.ndarray) -> np.ndarray:
        return (rows + np.float32(1)).astype(np.float32)


add_one_runner = bentoml.Runner(AddOne, name="add_one_runner")

svc = bentoml.Service("numpy_add_one", runners=[add_one_runner])


@svc.api(input=NumpyNdarray(dtype=np.float32, enforce_dtype=True), output=NumpyNdarray())
async def add_one(arr: np.ndarray) -> np.ndarray:
    return await add_one_runner.add_one.async_run(arr)

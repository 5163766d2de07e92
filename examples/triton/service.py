"""Classic BentoML's Triton example: ``add_one``, a python-backend model with dynamic batching,
behind a Triton runner. ``bentoml serve service:svc`` starts tritonserver beside the API
workers (README.md says how to get one); POST a JSON array of rows of 4 numbers to /add_one."""

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray

triton_runner = bentoml.triton.Runner("triton_runner", model_repository="./model_repository")

svc = bentoml.Service("triton_svc", runners=[triton_runner])


@svc.api(input=NumpyNdarray(dtype=np.float32, enforce_dtype=True), output=NumpyNdarray())
async def add_one(arr: np.ndarray) -> np.ndarray:
    result = await triton_runner.add_one.async_run(arr)
    return result.as_numpy("OUTPUT0")


# The same from a sync function, with the input named: run() blocks its pool thread instead.
@svc.api(input=NumpyNdarray(dtype=np.float32, enforce_dtype=True), output=NumpyNdarray())
def add_one_sync(arr: np.ndarray) -> np.ndarray:
    return triton_runner.add_one.run(INPUT0=arr).as_numpy("OUTPUT0")

"""The same classifier as ``service.py``, written as an async API.

``bentoml serve service_async:svc``. An async API runs on the worker's event loop and awaits
the runner, so a request needs no thread of its own: under concurrency this serves about twice
the requests of the sync version on the same machine (see docs/benchmarks.md).
"""

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray

iris_clf_runner = bentoml.sklearn.get("iris_clf:latest").to_runner()

svc = bentoml.Service("iris_classifier", runners=[iris_clf_runner])


@svc.api(
    input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True),
    output=NumpyNdarray(),
)
async def classify(input_series: np.ndarray) -> np.ndarray:
    return await iris_clf_runner.predict.async_run(input_series)

"""The iris classifier behind one dependency hop, for bench_composition.py: the entry service
(the only one on the port) calls the ``iris_model`` service, whose API calls the runner. Its
descriptors and the runner call are examples/iris/service_async.py's, so the only difference
from that single service is the hop."""

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray

iris_clf_runner = bentoml.sklearn.get("iris_clf:latest").to_runner()

model = bentoml.Service("iris_model", runners=[iris_clf_runner])


@model.api(input=NumpyNdarray(), output=NumpyNdarray())
async def predict(input_series: np.ndarray) -> np.ndarray:
    return await iris_clf_runner.predict.async_run(input_series)


svc = bentoml.Service("iris_entry")
iris_model = bentoml.depends(model)


@svc.api(
    input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True),
    output=NumpyNdarray(),
)
async def classify(input_series: np.ndarray) -> np.ndarray:
    return await iris_model.predict.async_run(input_series)

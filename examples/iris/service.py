"""The classic quickstart: ``bentoml serve service:svc``, then POST a JSON array to /classify."""

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray

iris_clf_runner = bentoml.sklearn.get("iris_clf:latest").to_runner()

svc = bentoml.Service("iris_classifier", runners=[iris_clf_runner])


# Four float features per row; a request with another row width is a 400, not a model crash.
@svc.api(
    input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True),
    output=NumpyNdarray(),
)
def classify(input_series: np.ndarray) -> np.ndarray:
    return iris_clf_runner.predict.run(input_series)

"""Two runners in a row: a numpy pre-processing Runnable of our own, then the PyTorch MLP.

``python train.py``, then ``bentoml serve service:svc``, then POST rows of 8 numbers to
/classify. Both runners batch: concurrent requests reach each runner as one call.
"""

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray

mlp_model = bentoml.pytorch.get("torch_mlp:latest")


class Standardize(bentoml.Runnable):
    """Scales each feature by the training data's mean and spread (saved with the model).

    numpy only, on the CPU: one thread per worker is what it uses, so the scheduler starts a
    worker per CPU (``SUPPORTS_CPU_MULTI_THREADING = False``) instead of one with a thread per
    CPU, and never hands it a GPU.
    """

    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    def __init__(self) -> None:
        stats = mlp_model.custom_objects["feature_stats"]
        self.mean = stats["mean"]
        self.std = stats["std"]

    @bentoml.Runnable.method(batchable=True, batch_dim=0)
    def transform(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.mean) / self.std


standardize = bentoml.Runner(Standardize, name="standardize", models=[mlp_model])
mlp = mlp_model.to_runner()

svc = bentoml.Service("torch_mlp_classifier", runners=[standardize, mlp])


@svc.api(
    input=NumpyNdarray(dtype="float64", shape=(-1, 8), enforce_dtype=True, enforce_shape=True),
    output=NumpyNdarray(),
)
async def classify(rows: np.ndarray) -> np.ndarray:
    scaled = await standardize.transform.async_run(rows)
    # a tensor of int64 classes; the API answers it as a JSON list
    return np.asarray(await mlp.predict.async_run(scaled))


# For clients that standardise the rows themselves. The body goes to the model as it is: the
# model's input_spec (float32, 8 columns) is what checks it, and a 400 names what it expected.
@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
async def classify_standardized(rows: np.ndarray) -> np.ndarray:
    return np.asarray(await mlp.predict.async_run(rows))

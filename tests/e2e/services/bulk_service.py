"""A service that scores bulk frames, as issue 17 tried it: 1,000-row records of 8 float
columns, a batchable custom Runnable that sums each row, and nothing configured."""

from __future__ import annotations

import numpy as np
import pandas as pd

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray, PandasDataFrame


class RowSums(bentoml.Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    @bentoml.Runnable.method(batchable=True)
    def total(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.to_numpy().sum(axis=1)


runner = bentoml.Runner(RowSums, name="row_sums")
svc = bentoml.Service("bulk_service", runners=[runner])


@svc.api(input=PandasDataFrame(orient="records"), output=NumpyNdarray())
def sums(frame: pd.DataFrame) -> np.ndarray:
    return runner.total.run(frame)


@svc.api(input=PandasDataFrame(orient="records"), output=NumpyNdarray())
async def async_sums(frame: pd.DataFrame) -> np.ndarray:
    return await runner.total.async_run(frame)

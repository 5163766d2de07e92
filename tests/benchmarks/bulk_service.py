"""The bulk benchmark's service, written as a new user writes it: sync APIs (the quickstart's
style) that hand whole requests to a batchable custom Runnable, under the default configuration.

    bentoml serve bulk_service:svc      (from tests/benchmarks/)

One API per workload of bench_bulk.py: a frame as JSON records, as CSV, as parquet, and an
ndarray as JSON. The frame APIs name their format as the default, and the Content-Type of the
request names it too, as a client would send it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bulk_model import FEATURES, project, row_sums

import bentoml_classic as bentoml
from bentoml_classic.io import NumpyNdarray, PandasDataFrame


class BulkModel(bentoml.Runnable):
    """Row sums of a frame, and a small matmul of an ndarray: both batchable along rows."""

    @bentoml.Runnable.method(batchable=True)
    def row_sums(self, frame: pd.DataFrame) -> np.ndarray:
        return row_sums(frame)

    @bentoml.Runnable.method(batchable=True)
    def project(self, rows: np.ndarray) -> np.ndarray:
        return project(rows)


runner = bentoml.Runner(BulkModel, name="bulk_model")
svc = bentoml.Service("bulk_benchmark", runners=[runner])


@svc.api(input=PandasDataFrame(orient="records"), output=NumpyNdarray())
def records(frame: pd.DataFrame) -> np.ndarray:
    return runner.row_sums.run(frame)


@svc.api(input=PandasDataFrame(default_format="csv"), output=NumpyNdarray())
def csv(frame: pd.DataFrame) -> np.ndarray:
    return runner.row_sums.run(frame)


@svc.api(input=PandasDataFrame(default_format="parquet"), output=NumpyNdarray())
def parquet(frame: pd.DataFrame) -> np.ndarray:
    return runner.row_sums.run(frame)


@svc.api(
    input=NumpyNdarray(dtype="float32", shape=(-1, FEATURES), enforce_shape=True),
    output=NumpyNdarray(),
)
def ndarray(rows: np.ndarray) -> np.ndarray:
    return runner.project.run(rows)

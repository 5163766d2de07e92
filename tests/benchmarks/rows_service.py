"""The bulk-rows workload of issue 17: 1,000 records in, one sum per row out.

A ``PandasDataFrame(orient="records")`` API and a batchable custom Runnable that sums each row,
as a new user would write it. Not multi-threaded, so ``bentoml serve`` starts one runner worker
per CPU (two on the benchmark machine).
"""

from __future__ import annotations

import pandas as pd

import bentoml_classic as bentoml
from bentoml_classic.io import PandasDataFrame


class RowSummer(bentoml.Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    @bentoml.Runnable.method(batchable=True)
    def sum_rows(self, frame: pd.DataFrame) -> pd.Series:
        return frame.sum(axis=1)


runner = bentoml.Runner(RowSummer, name="row_summer")
svc = bentoml.Service("rows", runners=[runner])


@svc.api(input=PandasDataFrame(orient="records"), output=PandasDataFrame(orient="records"))
async def sum_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return (await runner.sum_rows.async_run(frame)).to_frame("sum")

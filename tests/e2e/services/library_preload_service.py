"""A pandas service served under the default configuration, whose API workers and runner
workers are forked by the library preforker (``serving/library_preload.py``): each process that
imports this module says so, with the first number it drew from numpy's global random state,
and a parquet body is read by a forked API worker and summed by a forked runner worker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

import bentoml_classic as bentoml
from bentoml_classic.io import PandasDataFrame

#: the first number drawn from numpy's global random state in this process: were that state
#: the one the preforker seeded, it would be the same in every worker
FIRST_DRAW = int(np.random.randint(0, 2**62))
# each process that imports this module says so in a file of its own (every worker, and the
# short-lived child that plans the deployment; never the preforker)
if os.environ.get("IMPORT_REPORTS"):
    report = Path(os.environ["IMPORT_REPORTS"]) / f"{os.getpid()}.json"
    report.write_text(json.dumps({"pid": os.getpid(), "first_draw": FIRST_DRAW}))


class Sampler(bentoml.Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False  # one thread, as the API workers: forked beside them

    @bentoml.Runnable.method(batchable=True)
    def sum_rows(self, frame: pd.DataFrame) -> pd.Series:
        return frame.sum(axis=1)


runner = bentoml.Runner(Sampler, name="sampler")
svc = bentoml.Service("library_preload", runners=[runner])


@svc.api(input=PandasDataFrame(), output=PandasDataFrame())
async def sum_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return (await runner.sum_rows.async_run(frame)).to_frame("sum")

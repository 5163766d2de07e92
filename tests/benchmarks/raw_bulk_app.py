"""The bulk benchmark's baselines: a bare Starlette app that does the work in its own process.

    RAW_BULK_JSON=json uvicorn raw_bulk_app:app --workers 2     (the hand-written app)
    RAW_BULK_JSON=orjson uvicorn raw_bulk_app:app --workers 2   (the limit)

What a user writes by hand for the same four endpoints as bulk_service.py, with no validation,
no runner and no batching: ``pd.DataFrame(json.loads(body))``, ``pd.read_csv``,
``pd.read_parquet`` (pyarrow), ``np.asarray(json.loads(body), dtype=float32)``, the same
computation (bulk_model.py), and the answer as JSON. With orjson for parsing and rendering it is
the limit a framework on this machine can approach, not beat.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from bulk_model import project, row_sums
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

loads: Callable[[bytes], Any]
if os.environ.get("RAW_BULK_JSON", "json") == "orjson":
    import orjson

    loads = orjson.loads

    def dumps(result: np.ndarray) -> bytes:
        return orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)

else:
    loads = json.loads

    def dumps(result: np.ndarray) -> bytes:
        return json.dumps(result.tolist()).encode()


def answer(result: np.ndarray) -> Response:
    return Response(dumps(result), media_type="application/json")


async def records(request: Request) -> Response:
    return answer(row_sums(pd.DataFrame(loads(await request.body()))))


async def csv(request: Request) -> Response:
    return answer(row_sums(pd.read_csv(io.BytesIO(await request.body()))))


async def parquet(request: Request) -> Response:
    frame = pd.read_parquet(io.BytesIO(await request.body()), engine="pyarrow")
    return answer(row_sums(frame))


async def ndarray(request: Request) -> Response:
    return answer(project(np.asarray(loads(await request.body()), dtype=np.float32)))


app = Starlette(
    routes=[
        Route(f"/{handler.__name__}", handler, methods=["POST"])
        for handler in (records, csv, parquet, ndarray)
    ]
)

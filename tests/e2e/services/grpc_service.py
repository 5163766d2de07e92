"""A service with one API per descriptor, for the gRPC tests (tests/e2e/test_grpc.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.io import (
    JSON,
    File,
    Image,
    Multipart,
    NumpyNdarray,
    PandasDataFrame,
    PandasSeries,
    Text,
)

svc = bentoml.Service("grpc_test")

#: the test opens this gate to let the calls held by `hold` finish; `holding` counts them
gate = threading.Event()
holding: list[str] = []


class Point(BaseModel):
    x: int
    y: float


@svc.on_startup
def remember_start(ctx: bentoml.Context) -> None:
    ctx.state["started"] = "yes"


@svc.api(
    input=NumpyNdarray(dtype="float32", shape=(-1, 4), enforce_shape=True), output=NumpyNdarray()
)
def classify(arr: np.ndarray) -> np.ndarray:
    return (arr.sum(axis=1) > 10).astype("int64")


@svc.api(input=NumpyNdarray(dtype="int32", enforce_dtype=True), output=NumpyNdarray())
def double_ints(arr: np.ndarray) -> np.ndarray:
    return arr * 2


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
async def echo_array(arr: np.ndarray) -> np.ndarray:
    return arr


@svc.api(input=PandasDataFrame(orient="columns"), output=PandasDataFrame(orient="columns"))
def frame_plus_one(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.select_dtypes("number") + 1


@svc.api(input=PandasSeries(dtype="float64"), output=PandasSeries())
def series_sum(series: pd.Series) -> pd.Series:
    return pd.Series([float(series.sum())])


@svc.api(input=JSON(pydantic_model=Point), output=JSON())
def point(p: Point) -> dict[str, Any]:
    return {"sum": p.x + p.y, "kind": type(p).__name__}


@svc.api(input=JSON(), output=JSON())
def echo_json(obj: Any) -> Any:
    return obj


@svc.api(input=Text(), output=Text())
def shout(text: str, ctx: bentoml.Context) -> str:
    who = ctx.request.headers.get("x-who", "nobody")
    ctx.response.headers["x-answered-by"] = f"{who}:{ctx.state.get('started')}"
    return text.upper()


@svc.api(input=File(mime_type="text/csv"), output=File(mime_type="text/csv"))
def file_size(file: Any) -> bytes:
    return f"size,{len(file.read())}".encode()


@svc.api(input=Image(allowed_mime_types=["image/png"]), output=JSON())
def image_size(image: Any) -> list[int]:
    return list(image.size)


@svc.api(
    input=Multipart(arr=NumpyNdarray(), note=Text()), output=Multipart(total=JSON(), note=Text())
)
def mixed(arr: np.ndarray, note: str) -> dict[str, Any]:
    return {"total": float(arr.sum()), "note": note[::-1]}


@svc.api(input=Text(), output=Text())
def explode(text: str) -> str:
    raise ValueError(f"secret path /etc/{text}")


@svc.api(input=Text(), output=Text())
async def sleepy(text: str) -> str:
    await asyncio.sleep(float(text))
    return "woke"


@svc.api(input=Text(), output=Text())
def busy(text: str) -> str:
    time.sleep(float(text))
    return "done"


@svc.api(input=Text(), output=Text())
async def hold(text: str) -> str:
    holding.append(text)
    await asyncio.to_thread(gate.wait, 30)
    return "released"


@svc.api(input=Text(), output=Text())
def overloaded(text: str) -> str:
    raise bentoml.exceptions.ServiceUnavailable("runner 'model' is down; retry shortly")

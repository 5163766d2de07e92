"""A service with every IO descriptor on both sides, for the Python client's tests.

Most APIs hand their input back (or something plainly derived from it), so that a test can
compare what the client sent with what it got. A runner (no model: a Runnable of its own) makes
``/readyz`` mean something; ``SLOW_INIT_SECONDS`` delays it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.client import Client
from bentoml_classic.exceptions import BadInput
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


class Scaler(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = False

    def __init__(self) -> None:
        time.sleep(float(os.environ.get("SLOW_INIT_SECONDS", "0")))

    @bentoml.Runnable.method(batchable=True)
    def scale(self, arr: np.ndarray) -> np.ndarray:
        return arr * 2


scaler = bentoml.Runner(Scaler, name="scaler")
svc = bentoml.Service("client_service", runners=[scaler])


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@svc.api(
    input=NumpyNdarray(dtype="float32", shape=(-1, 2), enforce_shape=True),
    output=NumpyNdarray(dtype="float32"),
    doc="Doubles each value, on the runner.",
)
async def double(arr: np.ndarray) -> np.ndarray:
    return await scaler.scale.async_run(arr)


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
def ndarray_echo(arr: np.ndarray) -> np.ndarray:
    return scaler.scale.run(arr) / 2


@svc.api(input=PandasDataFrame(), output=PandasDataFrame())
def frame_echo(df: pd.DataFrame) -> pd.DataFrame:
    return df


@svc.api(
    input=PandasDataFrame(orient="split", default_format="csv"),
    output=PandasDataFrame(orient="split", dtype={"a": "int32"}, enforce_dtype=True),
)
def frame_split(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({"a": "int32"})


@svc.api(input=PandasSeries(orient="index"), output=PandasSeries(orient="table"))
def series_echo(series: pd.Series) -> pd.Series:
    return series


@svc.api(input=JSON(pydantic_model=Item), output=JSON(pydantic_model=Item))
def item_echo(item: Item) -> Item:
    return item


@svc.api(input=JSON(), output=JSON())
def json_echo(value: Any) -> Any:
    return value


@svc.api(input=Text(), output=Text())
def shout(text: str) -> str:
    return text.upper()


@svc.api(input=Text(), output=Text())
def words(text: str) -> Iterator[str]:
    for word in text.split():
        yield word + "\n"


@svc.api(input=Image(), output=Image(mime_type="image/png"))
def image_echo(image: Any) -> Any:
    return image


@svc.api(input=Image(allowed_mime_types=["image/jpeg"]), output=JSON())
def image_info(image: Any) -> dict[str, Any]:
    return {"format": image.format, "mode": image.mode, "size": list(image.size)}


@svc.api(input=File(), output=JSON())
def file_info(f: Any) -> dict[str, Any]:
    return {"name": f.name, "content_type": f.content_type, "size": len(f.read())}


@svc.api(input=File(mime_type="application/pdf"), output=File(mime_type="application/pdf"))
def file_echo(f: Any) -> bytes:
    return f.read()


@svc.api(
    input=Multipart(arr=NumpyNdarray(), item=JSON(pydantic_model=Item), note=Text(), blob=File()),
    output=Multipart(arr=NumpyNdarray(), item=JSON(), note=Text(), blob=File()),
)
def multipart_echo(arr: np.ndarray, item: Item, note: str, blob: Any) -> dict[str, Any]:
    return {"arr": arr, "item": item, "note": note, "blob": blob.read()}


@svc.api(input=JSON(), output=JSON())
def refuse(value: Any) -> Any:
    raise BadInput("value refused on purpose", detail={"field": "value"})


@svc.api(input=JSON(), output=JSON())
def crash(value: Any) -> Any:
    raise ValueError("secret internals")


@svc.api(input=Text(), output=JSON())
def call_elsewhere(url: str) -> Any:
    """Uses the client from inside a service: its error must not tell our caller the URL."""
    with Client.from_url(url) as client:
        return client.call("json_echo", {})

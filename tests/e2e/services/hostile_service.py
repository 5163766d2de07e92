"""Every IO descriptor, each API answering a small summary of what it got: for the hostile-body
test, which measures what parsing a request costs, not what echoing it back would."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

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


class Item(BaseModel):
    name: str = Field(max_length=50)
    price: float
    tags: list[str] = []


svc = bentoml.Service("hostile")


def summary(value: Any) -> dict[str, Any]:
    return {"type": type(value).__name__, "size": int(getattr(value, "size", 0) or len(value))}


@svc.api(input=NumpyNdarray(), output=JSON())
def ndarray_any(arr: np.ndarray) -> dict[str, Any]:
    return summary(arr)


@svc.api(input=NumpyNdarray(dtype="float32", shape=(-1, 3), enforce_dtype=True), output=JSON())
def ndarray_strict(arr: np.ndarray) -> dict[str, Any]:
    return summary(arr)


@svc.api(input=NumpyNdarray(dtype="int16", shape=(-1, 2)), output=JSON())
def ndarray_loose(arr: np.ndarray) -> dict[str, Any]:
    return summary(arr)


@svc.api(input=JSON(pydantic_model=Item), output=JSON())
def json_model(item: Item) -> dict[str, Any]:
    return {"tags": len(item.tags)}


@svc.api(input=JSON(), output=JSON())
def json_any(value: Any) -> dict[str, Any]:
    return summary(value)


@svc.api(input=Text(), output=JSON())
def text(value: str) -> dict[str, Any]:
    return summary(value)


@svc.api(
    input=Multipart(arr=NumpyNdarray(dtype="float64"), item=JSON(pydantic_model=Item), note=Text()),
    output=JSON(),
)
def multipart(arr: np.ndarray, item: Item, note: str) -> dict[str, Any]:
    return summary(arr)


@svc.api(input=PandasDataFrame(), output=JSON())
def dataframe(df: pd.DataFrame) -> dict[str, Any]:
    return summary(df)


@svc.api(input=PandasSeries(), output=JSON())
def series(s: pd.Series) -> dict[str, Any]:
    return summary(s)


@svc.api(input=Image(), output=JSON())
def image(img: Any) -> dict[str, Any]:
    return {"size": list(img.size)}


@svc.api(input=File(), output=JSON())
def file(f: Any) -> dict[str, Any]:
    return {"size": len(f.read())}

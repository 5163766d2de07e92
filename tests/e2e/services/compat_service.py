"""APIs declared the way classic BentoML 1.1 users declared them, each answering what its function
received (type, dtype, mode, ...), for the classic-compatibility e2e test."""

from __future__ import annotations

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


class Flower(BaseModel):
    sepal_length: float
    species: str


svc = bentoml.Service("compat")


def _array(arr: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "values": arr.tolist()}


def _frame(df: pd.DataFrame) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in df.columns],
        "dtypes": [str(d) for d in df.dtypes],
        "records": df.astype(object).where(df.notna(), None).to_dict(orient="records"),
    }


@svc.api(input=NumpyNdarray(dtype=np.float32, enforce_dtype=True), output=JSON())
def iris_f32(arr: np.ndarray) -> dict[str, Any]:
    return _array(arr)


@svc.api(input=NumpyNdarray(dtype="float64", shape=(-1, 4)), output=JSON())
def iris_shaped(arr: np.ndarray) -> dict[str, Any]:
    return _array(arr)


@svc.api(input=NumpyNdarray(), output=JSON())
def any_array(arr: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "values": repr(arr.tolist())}


@svc.api(input=PandasDataFrame(orient="records"), output=JSON())
def records(df: pd.DataFrame) -> dict[str, Any]:
    return _frame(df)


@svc.api(input=PandasDataFrame(dtype={"a": "float32"}, enforce_dtype=True), output=JSON())
def frame_f32(df: pd.DataFrame) -> dict[str, Any]:
    return _frame(df)


@svc.api(input=PandasSeries(dtype="float32", enforce_dtype=True), output=JSON())
def series_f32(series: pd.Series) -> dict[str, Any]:
    return {"dtype": str(series.dtype), "values": series.tolist()}


@svc.api(input=Image(), output=JSON())
def image(img: Any) -> dict[str, Any]:
    return {"mode": img.mode, "format": img.format, "size": list(img.size)}


@svc.api(input=Image(pilmode="L"), output=JSON())
def image_grey(img: Any) -> dict[str, Any]:
    return {"mode": img.mode, "size": list(img.size)}


@svc.api(input=File(), output=JSON())
def file(f: Any) -> dict[str, Any]:
    return {"name": f.name, "size": len(f.read())}


@svc.api(input=JSON(), output=JSON())
def json_any(value: Any) -> dict[str, Any]:
    return {"type": type(value).__name__, "repr": repr(value)}


@svc.api(input=JSON(pydantic_model=Flower), output=JSON())
def flower(item: Flower) -> dict[str, Any]:
    return item.model_dump()


@svc.api(input=Text(), output=Text())
def text(value: str) -> str:
    return value


@svc.api(input=Multipart(arr=NumpyNdarray(), meta=JSON()), output=JSON())
def parts(arr: np.ndarray, meta: Any) -> dict[str, Any]:
    return {"arr": arr.tolist(), "meta": meta}

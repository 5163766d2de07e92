"""A service with every IO descriptor in and out, for the schemathesis fuzz test.

Each API hands its input straight back (or something trivially derived), so that any 5xx or
undocumented answer comes from a descriptor or the server, never from the functions here.
"""

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
    # pydantic takes 1e400 (valid JSON) as inf and renders it as null, which the schema refuses
    price: float = Field(allow_inf_nan=False)
    tags: list[str] = []
    quantity: int | None = None


svc = bentoml.Service("fuzz")


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
def ndarray_any(arr: np.ndarray) -> np.ndarray:
    return arr


# from_sample: the document carries an example, which schemathesis sends first
STRICT = NumpyNdarray.from_sample(
    np.array([[1.5, 2.5, 3.5]], dtype="float32"), enforce_dtype=True, enforce_shape=True
)


@svc.api(input=STRICT, output=NumpyNdarray())
def ndarray_strict(arr: np.ndarray) -> np.ndarray:
    return arr


@svc.api(input=NumpyNdarray(dtype="int16", shape=(-1, 2)), output=NumpyNdarray())
def ndarray_loose(arr: np.ndarray) -> np.ndarray:
    return arr


@svc.api(input=JSON(pydantic_model=Item), output=JSON(pydantic_model=Item))
def json_model(item: Item) -> Item:
    return item


@svc.api(input=JSON(), output=JSON())
def json_any(value: Any) -> Any:
    return value


@svc.api(input=Text(), output=Text())
def text(value: str) -> str:
    return value


@svc.api(
    input=Multipart(
        arr=NumpyNdarray(dtype="float64", shape=(3,), enforce_shape=True),
        item=JSON(pydantic_model=Item),
        note=Text(),
        blob=File(),
    ),
    output=Multipart(arr=NumpyNdarray(), item=JSON(pydantic_model=Item), note=Text(), blob=File()),
)
def multipart(arr: np.ndarray, item: Item, note: str, blob: Any) -> dict[str, Any]:
    return {"arr": arr, "item": item, "note": note, "blob": blob.read()}


@svc.api(input=PandasDataFrame(), output=PandasDataFrame())
def dataframe(df: pd.DataFrame) -> pd.DataFrame:
    return df


@svc.api(
    input=PandasDataFrame(
        columns=["a", "b"], dtype={"a": "float64", "b": "int64"}, enforce_dtype=True
    ),
    output=PandasDataFrame(),
)
def dataframe_typed(df: pd.DataFrame) -> pd.DataFrame:
    return df


@svc.api(input=PandasSeries(), output=PandasSeries())
def series(s: pd.Series) -> pd.Series:
    return s


@svc.api(input=Image(), output=Image(mime_type="image/png"))
def image(img: Any) -> Any:
    return img


@svc.api(input=File(), output=File())
def file(f: Any) -> bytes:
    return f.read()

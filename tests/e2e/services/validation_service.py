"""A service with one API per kind of input check, served by the e2e tests."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.io import JSON, Multipart, NumpyNdarray, Text


class Flower(BaseModel):
    sepal_length: float
    sepal_width: float
    species: str


svc = bentoml.Service("validation")


@svc.api(
    input=NumpyNdarray(dtype="int64", enforce_dtype=True, shape=(-1, 2), enforce_shape=True),
    output=NumpyNdarray(),
)
def strict(arr: np.ndarray) -> np.ndarray:
    return arr.sum(axis=1)


@svc.api(input=JSON(pydantic_model=Flower), output=JSON())
def flower(item: Flower) -> dict[str, object]:
    return {"species": item.species, "area": item.sepal_length * item.sepal_width}


@svc.api(input=Text(), output=Text())
def shout(text: str) -> str:
    return text.upper()


@svc.api(input=JSON(), output=JSON())
def divide(payload: dict[str, float]) -> float:
    return payload["a"] / payload["b"]


@svc.api(
    input=Multipart(arr=NumpyNdarray(dtype="int64"), flower=JSON(pydantic_model=Flower)),
    output=JSON(),
)
def parts(arr: np.ndarray, flower: Flower) -> dict[str, object]:
    return {"sum": int(arr.sum()), "species": flower.species}

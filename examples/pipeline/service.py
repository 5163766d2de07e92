"""Service composition: ``bentoml serve service:pipeline`` (or ``service:diamond``).

Three services in a chain, each in processes of its own, only the entry on the HTTP port:

    pipeline --> preprocess   (flower measurements in millimetres -> a feature array in cm)
             --> model        (the iris classifier's runner)
             --> postprocess  (class numbers -> species names)

and a diamond, where two services call one:

    diamond --> sepal --> preprocess
            --> petal --> preprocess

Train the model first: ``python ../iris/train.py``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.io import JSON, NumpyNdarray

SPECIES = ("setosa", "versicolor", "virginica")


class Flower(BaseModel):
    """One flower's measurements, in millimetres."""

    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


class Flowers(BaseModel):
    flowers: list[Flower]


# --- preprocess: millimetres -> the model's features (centimetres) --------------------------
preprocess = bentoml.Service("preprocess")


@preprocess.api(input=JSON(pydantic_model=Flowers), output=NumpyNdarray())
def features(flowers: Flowers) -> np.ndarray:
    rows = [[f.sepal_length, f.sepal_width, f.petal_length, f.petal_width] for f in flowers.flowers]
    return np.asarray(rows, dtype="float64").reshape(-1, 4) / 10.0


# --- model: the iris classifier's runner --------------------------------------------------
iris_clf_runner = bentoml.sklearn.get("iris_clf:latest").to_runner()
model = bentoml.Service("model", runners=[iris_clf_runner])


@model.api(input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True), output=JSON())
async def classify(features: np.ndarray) -> list[int]:
    return [int(k) for k in await iris_clf_runner.predict.async_run(features)]


# --- postprocess: class numbers -> names ------------------------------------------------------
postprocess = bentoml.Service("postprocess")


@postprocess.api(input=JSON(), output=JSON())
def names(classes: list[int]) -> list[str]:
    if any(not 0 <= k < len(SPECIES) for k in classes):
        raise bentoml.exceptions.BadInput(f"unknown class in {classes}")
    return [SPECIES[k] for k in classes]


# --- the entry: the only service on the HTTP port ---------------------------------------------
pipeline = bentoml.Service("iris_pipeline")
to_features = bentoml.depends(preprocess)
classifier = bentoml.depends(model)
to_names = bentoml.depends(postprocess)


@pipeline.api(input=JSON(pydantic_model=Flowers), output=JSON())
async def species(flowers: Flowers) -> list[str]:
    rows = await to_features.features.async_run(flowers)
    classes = await classifier.classify.async_run(rows)
    names_found: list[str] = await to_names.names.async_run(classes)
    return names_found


@pipeline.api(input=JSON(), output=JSON())
def names_of(classes: list[int]) -> list[str]:
    """A sync API calling a dependency with ``run``; an unknown class is the dependency's
    BadInput, passed through with its status."""
    found: list[str] = to_names.names.run(classes)
    return found


# --- a diamond: sepal and petal both call preprocess -----------------------------------------
sepal = bentoml.Service("sepal")
petal = bentoml.Service("petal")
diamond = bentoml.Service("iris_diamond")
scaled = bentoml.depends(preprocess)


@sepal.api(input=JSON(pydantic_model=Flowers), output=JSON())
async def sepal_ratio(flowers: Flowers) -> list[float]:
    rows = await scaled.features.async_run(flowers)
    return [round(float(r), 3) for r in rows[:, 0] / rows[:, 1]]


@petal.api(input=JSON(pydantic_model=Flowers), output=JSON())
def petal_ratio(flowers: Flowers) -> list[float]:
    rows = scaled.features.run(flowers)
    return [round(float(r), 3) for r in rows[:, 2] / rows[:, 3]]


sepal_service = bentoml.depends(sepal)
petal_service = bentoml.depends(petal)


@diamond.api(input=JSON(pydantic_model=Flowers), output=JSON())
async def ratios(flowers: Flowers) -> dict[str, list[float]]:
    return {
        "sepal": await sepal_service.sepal_ratio.async_run(flowers),
        "petal": await petal_service.petal_ratio.async_run(flowers),
    }

"""The baseline: a bare Starlette app that runs the iris model in its own process.

It does what the framework does minus everything a framework adds (validation, runners, error
envelopes, request ids): the physical limit the benchmark compares against.
"""

from __future__ import annotations

import json
import os

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import bentoml_classic as bentoml

model = bentoml.sklearn.load_model(os.environ.get("IRIS_TAG", "iris_clf:latest"))


async def classify(request: Request) -> Response:
    features = np.asarray(json.loads(await request.body()), dtype="float64")
    return Response(json.dumps(model.predict(features).tolist()), media_type="application/json")


app = Starlette(routes=[Route("/classify", classify, methods=["POST"])])

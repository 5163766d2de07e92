"""The baseline of the bulk-rows workload: a bare Starlette app that does the same in its own
process (``pd.DataFrame(json.loads(body))``, the sum of each row, ``json.dumps``)."""

from __future__ import annotations

import json

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def sum_rows(request: Request) -> Response:
    frame = pd.DataFrame(json.loads(await request.body()))
    sums = frame.sum(axis=1)
    body = json.dumps([{"sum": value} for value in sums.tolist()])
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/sum_rows", sum_rows, methods=["POST"])])

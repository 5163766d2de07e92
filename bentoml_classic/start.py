"""Start one tier at a time, for runners on other hosts than the API servers (classic's
``bentoml.start``)::

    start_runner_server("service:svc", ".", "iris_clf", port=3001)                     # host A
    start_http_server("service:svc", {"iris_clf": "tcp://hostA:3001"}, ".", port=3000)  # host B

The signatures are classic BentoML 1.1's. The implementation is ``serving/start.py``; this
module is its public name.
"""

from __future__ import annotations

from .serving.start import (
    RUNNER_MAP_ENV,
    parse_runner_map,
    start_grpc_server,
    start_http_server,
    start_runner_server,
)

__all__ = [
    "RUNNER_MAP_ENV",
    "parse_runner_map",
    "start_grpc_server",
    "start_http_server",
    "start_runner_server",
]

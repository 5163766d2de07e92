"""A Python client for a running service, built from its ``/docs.json`` (classic BentoML's
``bentoml.client``).

    from bentoml_classic.client import Client

    client = Client.from_url("http://127.0.0.1:3000")
    client.wait_until_server_ready(timeout=60)
    client.classify(np.array([[5.9, 3.0, 5.1, 1.8]]))        # an ndarray back
    await client.async_classify(arr)                          # the same, from a coroutine

Every API becomes a method named after it, taking and returning the Python types of its IO
descriptors (ndarray, DataFrame, Series, JSON values, str, PIL images, files; a Multipart API
takes its parts as keyword arguments and returns a dict). ``AsyncClient`` is the all-async
twin. ``GrpcClient`` / ``AsyncGrpcClient`` do the same over gRPC (``bentoml serve-grpc``),
read from ``ServiceMetadata`` (``grpc_client.py``, ``grpc_codec.py``; the ``grpc`` extra).
What each module does: ``description`` reads /docs.json, ``registry`` picks a codec per
descriptor (``arrays``, ``media``, ``multipart``), ``endpoint`` makes requests and reads
answers, ``errors`` says what can go wrong.

This package imports nothing of the server side (import-linter checks it), so it runs where
only the client is wanted.
"""

from __future__ import annotations

from .async_client import AsyncClient, AsyncHTTPClient
from .errors import (
    ClientConnectionError,
    ClientError,
    ClientRequestError,
    ClientResponseError,
    ClientTimeoutError,
    ResponseDecodeError,
    ServerError,
    ServerNotReady,
    ServiceDescriptionError,
)
from .grpc_client import AsyncGrpcClient, GrpcClient
from .media import ReceivedFile
from .sync_client import Client, HTTPClient

__all__ = [
    "AsyncClient",
    "AsyncGrpcClient",
    "AsyncHTTPClient",
    "Client",
    "ClientConnectionError",
    "ClientError",
    "ClientRequestError",
    "ClientResponseError",
    "ClientTimeoutError",
    "GrpcClient",
    "HTTPClient",
    "ReceivedFile",
    "ResponseDecodeError",
    "ServerError",
    "ServerNotReady",
    "ServiceDescriptionError",
]

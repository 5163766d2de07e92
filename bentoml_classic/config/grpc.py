"""``api_server.grpc.*``: the gRPC front door (``bentoml serve-grpc``, ``grpc_server/``)."""

from __future__ import annotations

from pydantic import Field

from .base import _Strict


class GrpcSwitch(_Strict):
    enabled: bool = False


class GrpcMetricsConfig(_Strict):
    """Where Prometheus scrapes a gRPC deployment: an HTTP port of its own, beside the gRPC one
    (each API worker listens there too, sharing it as they share the gRPC port)."""

    host: str = "127.0.0.1"
    port: int = Field(3001, ge=0, le=65535)


class GrpcConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    #: HTTP/2 streams one connection may have open at once (gRPC's default when null)
    max_concurrent_streams: int | None = Field(None, gt=0)
    #: calls one API worker takes at once; more are answered RESOURCE_EXHAUSTED by gRPC itself
    maximum_concurrent_rpcs: int | None = Field(None, gt=0)
    #: the largest message received or sent, in bytes; null: ``api_server.max_request_size``
    max_message_length: int | None = Field(None, gt=0)
    reflection: GrpcSwitch = GrpcSwitch()
    channelz: GrpcSwitch = GrpcSwitch()
    metrics: GrpcMetricsConfig = GrpcMetricsConfig()

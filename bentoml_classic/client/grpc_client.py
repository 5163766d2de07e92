"""``GrpcClient`` and ``AsyncGrpcClient``: a service served by ``bentoml serve-grpc`` (or any
server of classic's ``bentoml.grpc.v1``), one method per API, read from ``ServiceMetadata``.

    client = GrpcClient.from_url("127.0.0.1:3000")
    client.wait_until_server_ready(timeout=60)
    client.classify(np.array([[5.9, 3.0, 5.1, 1.8]]))

    client = await AsyncGrpcClient.from_url("127.0.0.1:3000")
    await client.classify(arr)

An error answer is raised as the HTTP client raises it (``errors.py``): ``ClientRequestError``
for a client's mistake (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...), ``ServerError`` for the
rest, with the envelope's type, message and detail from the trailing metadata, ``status`` the
HTTP status of that error, and ``grpc_code`` the status code's name. No answer at all is a
``ClientConnectionError`` (``ClientTimeoutError`` past the deadline). grpc is imported only
when a client is made: the ``grpc`` extra is needed for this client alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from ..exceptions import InvalidArgument
from ..grpc.codes import STATUS_BY_CODE, read_envelope
from . import grpc_codec
from .errors import (
    ClientConnectionError,
    ClientRequestError,
    ClientResponseError,
    ClientTimeoutError,
    ServerError,
    ServerNotReady,
)

SERVICE_NAME = "bentoml.grpc.v1.BentoService"


@dataclass(frozen=True)
class GrpcApi:
    """One API as ``ServiceMetadata`` describes it."""

    name: str
    input_id: str
    input_args: dict[str, Any]
    output_id: str
    output_args: dict[str, Any]
    doc: str | None


def _apis(metadata: Any) -> dict[str, GrpcApi]:
    from google.protobuf import json_format

    apis: dict[str, GrpcApi] = {}
    for api in metadata.apis:
        apis[api.name] = GrpcApi(
            name=api.name,
            input_id=api.input.descriptor_id,
            input_args=json_format.MessageToDict(api.input.attributes),
            output_id=api.output.descriptor_id,
            output_args=json_format.MessageToDict(api.output.attributes),
            doc=api.docs if api.HasField("docs") else None,
        )
    return apis


def _request(api: GrpcApi, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from ..grpc.v1 import service_pb2 as pb

    request = pb.Request(api_name=api.name)
    if api.input_id == "bentoml.io.Multipart":
        if args:
            raise InvalidArgument(f"API {api.name!r} takes its parts as keyword arguments")
        parts = {name: spec for name, spec in api.input_args.items() if isinstance(spec, dict)}
        missing = [name for name in parts if name not in kwargs]
        if missing:
            raise InvalidArgument(f"API {api.name!r}: missing part(s) {missing}")
        for name, spec in parts.items():
            grpc_codec.encode(
                str(spec.get("id", "")),
                dict(spec.get("args") or {}),
                kwargs[name],
                request.multipart.fields[name],
            )
        return request
    values = [*args, *kwargs.values()]
    if len(values) != 1:
        raise InvalidArgument(f"API {api.name!r} takes one input, got {len(values)}")
    grpc_codec.encode(api.input_id, api.input_args, values[0], request)
    return request


def _value(api: GrpcApi, response: Any) -> Any:
    return grpc_codec.decode(api.output_id, api.output_args, response, "content")


def _error(api: GrpcApi, target: str, exc: Any) -> Exception:
    """The client error for a failed call (``exc``: a ``grpc.RpcError`` that is a ``Call``)."""
    code = exc.code()
    name = getattr(code, "name", str(code))
    error = read_envelope(exc.trailing_metadata())
    if error is None and name in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
        # no envelope: gRPC's own answer, the server never heard the call out
        what = f"API {api.name!r} at {target}: {exc.details()}"
        if name == "DEADLINE_EXCEEDED":
            return ClientTimeoutError(what)
        return ClientConnectionError(what)
    status = STATUS_BY_CODE.get(name, 500)
    if error is not None and error.get("type") == "PayloadTooLarge":
        status = 413
    error_class: type[ClientResponseError] = ClientRequestError if status < 500 else ServerError
    trailing = {
        key: value for key, value in (exc.trailing_metadata() or ()) if isinstance(value, str)
    }
    result = error_class(
        api=api.name,
        url=target,
        status=status,
        error_type=str(error.get("type")) if error else f"gRPC {name}",
        message=str(error.get("message")) if error else str(exc.details()),
        detail=error.get("detail") if error else None,
        request_id=None,
        headers=httpx.Headers(trailing),
    )
    result.grpc_code = name  # type: ignore[attr-defined]
    return result


class GrpcClient:
    """A blocking client; ``from_url`` reads the APIs. ``timeout``: seconds per call."""

    def __init__(self, target: str, channel: Any, apis: dict[str, GrpcApi], timeout: float):
        from ..grpc.v1 import service_pb2_grpc

        self.target = target
        self.timeout = timeout
        self._channel = channel
        self._stub = service_pb2_grpc.BentoServiceStub(channel)
        self.apis = apis
        for name in apis:
            if not hasattr(self, name):
                setattr(self, name, partial(self.call, name))

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 60.0, credentials: Any = None) -> GrpcClient:
        """Connect to ``host:port`` (``grpc://`` or ``grpcs://`` may prefix it; ``grpcs``, or
        ``credentials``, means TLS) and read its ``ServiceMetadata``."""
        import grpc

        from ..grpc.v1 import service_pb2 as pb

        target, secure = _target(url)
        if credentials is None and secure:
            credentials = grpc.ssl_channel_credentials()
        channel = (
            grpc.secure_channel(target, credentials)
            if credentials is not None
            else grpc.insecure_channel(target)
        )
        client = cls(target, channel, {}, timeout)
        try:
            metadata = client._stub.ServiceMetadata(pb.ServiceMetadataRequest(), timeout=timeout)
        except grpc.RpcError as exc:
            channel.close()
            raise ClientConnectionError(
                f"ServiceMetadata at {target}: {exc.code().name}: {exc.details()}"
            ) from None
        return cls(target, channel, _apis(metadata), timeout)

    def call(self, api_name: str, *args: Any, **kwargs: Any) -> Any:
        import grpc

        api = self.apis.get(api_name)
        if api is None:
            raise InvalidArgument(f"no API {api_name!r}; the service has {list(self.apis)}")
        request = _request(api, args, kwargs)
        try:
            response = self._stub.Call(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise _error(api, self.target, exc) from None
        return _value(api, response)

    def health(self, service: str = SERVICE_NAME) -> str:
        """The health service's answer for ``service``: ``SERVING``, ``NOT_SERVING``, ..."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self._channel)
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.timeout)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))

    def wait_until_server_ready(self, timeout: float = 30.0) -> None:
        """Poll the health service until it says SERVING (every runner answers)."""
        wait_until_serving(self.target, timeout, self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncGrpcClient:
    """The all-async twin (``grpc.aio``): ``client = await AsyncGrpcClient.from_url(url)``;
    one coroutine method per API. Use it in the event loop that made it."""

    def __init__(self, target: str, channel: Any, apis: dict[str, GrpcApi], timeout: float):
        from ..grpc.v1 import service_pb2_grpc

        self.target = target
        self.timeout = timeout
        self._channel = channel
        self._stub = service_pb2_grpc.BentoServiceStub(channel)
        self.apis = apis
        for name in apis:
            if not hasattr(self, name):
                setattr(self, name, partial(self.call, name))

    @classmethod
    async def from_url(
        cls, url: str, *, timeout: float = 60.0, credentials: Any = None
    ) -> AsyncGrpcClient:
        import grpc

        from ..grpc.v1 import service_pb2 as pb

        target, secure = _target(url)
        if credentials is None and secure:
            credentials = grpc.ssl_channel_credentials()
        channel = (
            grpc.aio.secure_channel(target, credentials)
            if credentials is not None
            else grpc.aio.insecure_channel(target)
        )
        client = cls(target, channel, {}, timeout)
        try:
            metadata = await client._stub.ServiceMetadata(
                pb.ServiceMetadataRequest(), timeout=timeout
            )
        except grpc.RpcError as exc:
            await channel.close()
            raise ClientConnectionError(
                f"ServiceMetadata at {target}: {exc.code().name}: {exc.details()}"
            ) from None
        return cls(target, channel, _apis(metadata), timeout)

    async def call(self, api_name: str, *args: Any, **kwargs: Any) -> Any:
        import grpc

        api = self.apis.get(api_name)
        if api is None:
            raise InvalidArgument(f"no API {api_name!r}; the service has {list(self.apis)}")
        request = _request(api, args, kwargs)
        try:
            response = await self._stub.Call(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise _error(api, self.target, exc) from None
        return _value(api, response)

    async def wait_until_server_ready(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(wait_until_serving, self.target, timeout, None)

    async def close(self) -> None:
        await self._channel.close()


def _target(url: str) -> tuple[str, bool]:
    for scheme, secure in (("grpcs://", True), ("grpc://", False), ("http://", False)):
        if url.startswith(scheme):
            return url[len(scheme) :].rstrip("/"), secure
    return url.rstrip("/"), False


def wait_until_serving(target: str, timeout: float, channel: Any = None) -> None:
    """Poll ``grpc.health.v1.Health`` at ``target`` until SERVING; ``ServerNotReady`` when it
    does not say so within ``timeout`` seconds."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    own = channel is None
    channel = channel or grpc.insecure_channel(target)
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    last = "no answer"
    try:
        while time.monotonic() < deadline:
            try:
                answer = stub.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAME),
                    timeout=max(0.1, min(2.0, deadline - time.monotonic())),
                )
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            except grpc.RpcError as exc:
                last = exc.code().name
            time.sleep(0.1)
    finally:
        if own:
            channel.close()
    raise ServerNotReady(f"gRPC server at {target} not SERVING after {timeout:g} s ({last})")

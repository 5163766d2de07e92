"""A Triton runner served on its own (``start_runner_server``): its calls over the runner protocol.

The HTTP tier does not speak Triton's gRPC to another host. It reaches the runner through the
runner protocol, like any runner: a runner server's worker runs ``TritonForwarder``, which
passes each call to the ``tritonserver`` beside it on 127.0.0.1. So the TCP token rule (and
TLS, and the 503 of an unreachable runner) is the runner protocol's, unchanged; Triton's own
ports never leave the runner's host, and Triton, which has no authentication of its own short of
a header on the command line (where every local user can read it), is never exposed. The cost
is one more hop per call, measured in docs/benchmarks.md.

The answer travels as Triton's own response bytes (gRPC's protobuf; HTTP's JSON header and
binary tensors) and ``ForwardedHandle`` makes ``tritonclient``'s ``InferResult`` of them again,
so a service gets the same object in both topologies.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ..exceptions import (
    BentoMLException,
    GatewayTimeout,
    InvalidArgument,
    RunnerError,
    ServiceUnavailable,
    StateException,
)
from ..runner.runnable import Runnable, RunnableMethodConfig
from .calls import MANAGE, TRITON_ADDRESS_ENV
from .errors import bad_call, input_named

if TYPE_CHECKING:
    from ..runner.handle import RunnerHandle

#: seconds a forwarder waits at start for its tritonserver to listen
_WAIT_FOR_TRITON = 120.0


class TritonForwarder(Runnable):
    """Runs in a runner server's worker: forwards ``infer`` and ``manage`` to the local Triton."""

    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = True

    def __init__(self, runner_name: str = "", protocol: str = "grpc", timeout: float = 300.0):
        from .handle import TritonHandle

        address = os.environ.get(TRITON_ADDRESS_ENV)
        if not address:
            raise StateException(
                f"Triton runner {runner_name!r}: its forwarder runs only in a runner server "
                "(start_runner_server), which starts tritonserver beside it"
            )
        _wait_for(address, _WAIT_FOR_TRITON)
        self._protocol = protocol
        self._handle = TritonHandle(runner_name, address, protocol, timeout=timeout)

    def infer(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Outcome]:
        """Each call ``(model, args, kwargs)`` sent to Triton at once; each one's outcome."""
        answers = self._handle.run_concurrently(calls)
        return [
            (ERROR, answer.error_type, answer.message, answer.http_status)
            if isinstance(answer, BentoMLException)
            else (RESULT, *pack(self._protocol, answer))
            for answer in answers
        ]

    def manage(self, call: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._handle.run_method(MANAGE + call, args, kwargs)


# A runner worker runs one call of a method at a time, so ``infer`` is batchable: the calls that
# arrive together (joined as a list by our batching, in the HTTP tier and here) go to Triton
# concurrently, whose dynamic batcher batches them; one call's error is its outcome alone.
TritonForwarder.add_method(
    TritonForwarder.infer, "infer", RunnableMethodConfig(batchable=True, batch_dim=0)
)
TritonForwarder.add_method(TritonForwarder.manage, "manage", RunnableMethodConfig())

RESULT, ERROR = "result", "error"
#: (RESULT, protocol, response bytes, header length) or (ERROR, type, message, HTTP status)
Outcome = tuple[Any, ...]


def _wait_for(address: str, timeout: float) -> None:
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)


def pack(protocol: str, result: Any) -> tuple[str, bytes, int]:
    """``result`` (tritonclient's InferResult) as (protocol, response bytes, JSON header length)."""
    if protocol == "grpc":
        return protocol, result.get_response().SerializeToString(), 0
    from tritonclient.utils import serialize_byte_tensor

    response = result.get_response()
    chunks = []
    for output in response.get("outputs", []):
        if "binary_data_size" in output.get("parameters", {}):
            array = result.as_numpy(output["name"])
            raw = serialize_byte_tensor(array) if output["datatype"] == "BYTES" else array
            chunks.append(raw.tobytes())
    header = json.dumps(response).encode()
    return protocol, header + b"".join(chunks), len(header)


def unpack(packed: tuple[Any, ...]) -> Any:
    """``pack``'s answer as tritonclient's InferResult again."""
    protocol, body, header_length = packed
    if protocol == "grpc":
        from tritonclient.grpc import InferResult, service_pb2

        return InferResult(service_pb2.ModelInferResponse.FromString(body))
    from tritonclient.http import InferResult as HttpInferResult

    return HttpInferResult.from_response_body(body, header_length=header_length)


class ForwardedHandle:
    """The handle of a Triton runner whose runner server is elsewhere: calls ``remote`` (the
    runner protocol's handle) for the forwarder's two methods."""

    def __init__(self, runner_name: str, remote: RunnerHandle) -> None:
        self._runner = runner_name
        self._remote = remote

    @staticmethod
    def _route(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
        if method.startswith(MANAGE):
            return "manage", (method[len(MANAGE) :], args, kwargs)
        return "infer", ([(method, args, kwargs)],)  # a batch of one

    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name, call = self._route(method, args, kwargs)
        try:
            answer = self._remote.run_method(name, call, {})
        except RunnerError as exc:
            raise self._as_raised(method, exc) from None
        return self._outcome(method, answer[0]) if name == "infer" else answer

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        name, call = self._route(method, args, kwargs)
        try:
            answer = await self._remote.async_run_method(name, call, {})
        except RunnerError as exc:
            raise self._as_raised(method, exc) from None
        return self._outcome(method, answer[0]) if name == "infer" else answer

    def _outcome(self, model: str, outcome: Outcome) -> Any:
        """One call's ``InferResult``, or its error raised as the forwarder's handle raised it."""
        if outcome[0] == RESULT:
            return unpack(outcome[1:])
        _, error_type, message, status = outcome
        if status == 400:
            return_error: Exception = bad_call(self._runner, model, message, input_named(message))
        elif status == 503:
            return_error = ServiceUnavailable(message, detail={"runner": self._runner})
        elif status == 504:
            return_error = GatewayTimeout(message, detail={"runner": self._runner})
        else:
            return_error = RunnerError(
                message,
                detail={"exception": error_type, "runner": self._runner, "model": model},
                status=status,
            )
        raise return_error

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        raise InvalidArgument(f"Triton runner {self._runner!r} does not stream; call run()")

    def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        raise InvalidArgument(f"Triton runner {self._runner!r} does not stream; call async_run()")

    async def is_ready(self) -> bool:
        return await self._remote.is_ready()

    async def scrape_metrics(self) -> list[str]:
        return await self._remote.scrape_metrics()

    def close(self) -> None:
        self._remote.close()

    def _as_raised(self, method: str, exc: RunnerError) -> Exception:
        """A forwarder's ``BadInput`` (a wrong tensor) as a ``BadInput`` here too, naming the
        model and the input: the client's 400 is the same in both topologies."""
        if exc.http_status != 400:
            return exc
        _, _, message = exc.message.partition("raised BadInput: ")
        message = message or exc.message
        model = "" if method.startswith(MANAGE) else method
        return bad_call(self._runner, model, message, input_named(message))

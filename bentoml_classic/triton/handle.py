"""``TritonHandle``: the runner handle that calls a ``tritonserver`` with ``tritonclient``.

This is the only module that imports ``tritonclient``, and only processes that attach it to a
Triton runner import it (the API workers, ``init_local()``, a forwarder).

The asyncio clients of ``tritonclient`` (a gRPC channel, an aiohttp session) belong to the
event loop they were made on, so the handle keeps one per loop that calls it: the API worker's
loop in production. Calls from threads (``run()`` in a sync API function, a forwarder, a
notebook) go to a loop of the handle's own, in a thread it starts on the first such call.

A model's inputs (their names, in ``config.pbtxt``'s order) are asked of Triton on the model's
first call and kept; ``load_model`` and ``unload_model`` forget them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np

from ..exceptions import BentoMLException, InvalidArgument, StateException
from .calls import MANAGE, MANAGEMENT_CALLS
from .errors import bad_call, from_triton, unreachable

#: seconds /readyz waits for Triton's answer
_READY_TIMEOUT = 2.0


class TritonHandle:
    """Calls Triton at ``host:port`` over ``protocol`` ("grpc" or "http") for ``runner_name``.

    ``on_close``: what else closing releases (a ``tritonserver`` this process started).
    ``timeout``: seconds a call may take (``runners.timeout``).
    """

    def __init__(
        self,
        runner_name: str,
        address: str,
        protocol: str,
        *,
        timeout: float = 300.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if protocol == "grpc":
            import tritonclient.grpc as types
            import tritonclient.grpc.aio as client_module
        else:
            import tritonclient.http as types
            import tritonclient.http.aio as client_module
        from tritonclient.utils import InferenceServerException, np_to_triton_dtype

        self._runner = runner_name
        self._address = address
        self._protocol = protocol
        self._timeout = timeout
        self._on_close = on_close
        self._types = types
        self._client_module = client_module
        self._server_error = InferenceServerException
        self._to_triton_dtype = np_to_triton_dtype
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._inputs: dict[str, list[str]] = {}
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._own_loop_lock = threading.Lock()
        self._closed = False

    # -- clients, one per event loop ------------------------------------------------------

    def _client(self) -> Any:
        if self._closed:
            raise StateException(f"Triton runner {self._runner!r} was destroyed")
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            if self._protocol == "grpc":
                client = self._client_module.InferenceServerClient(self._address)
            else:
                client = self._client_module.InferenceServerClient(
                    self._address, conn_timeout=self._timeout
                )
            self._clients[loop] = client
        return client

    def _loop_for_threads(self) -> asyncio.AbstractEventLoop:
        with self._own_loop_lock:
            if self._own_loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name=f"triton-{self._runner}", daemon=True
                ).start()
                self._own_loop = loop
            return self._own_loop

    # -- the RunnerHandle protocol ----------------------------------------------------------

    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(
            self.async_run_method(method, args, kwargs), self._loop_for_threads()
        )
        return future.result()

    def run_concurrently(
        self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]
    ) -> list[Any]:
        """Several calls ``(method, args, kwargs)`` at once, from a thread that may block; each
        one's answer, or the ``BentoMLException`` it raised."""

        async def all_of() -> list[Any]:
            return await asyncio.gather(
                *(self.async_run_method(*call) for call in calls), return_exceptions=True
            )

        answers = asyncio.run_coroutine_threadsafe(all_of(), self._loop_for_threads()).result()
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, BentoMLException):
                raise answer
        return answers

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if method.startswith(MANAGE):
            return await self._manage(method[len(MANAGE) :], args, kwargs)
        return await self._infer(method, args, kwargs)

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        raise InvalidArgument(f"Triton runner {self._runner!r} does not stream; call run()")

    def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        raise InvalidArgument(f"Triton runner {self._runner!r} does not stream; call async_run()")

    async def is_ready(self) -> bool:
        try:
            client = self._client()
            if self._protocol == "grpc":
                return bool(await client.is_server_ready(client_timeout=_READY_TIMEOUT))
            return bool(await asyncio.wait_for(client.is_server_ready(), timeout=_READY_TIMEOUT))
        except Exception:
            return False

    async def scrape_metrics(self) -> list[str]:
        return []

    def close(self) -> None:
        self._closed = True
        for loop, client in list(self._clients.items()):
            _close_client(loop, client)
        self._clients.clear()
        if self._own_loop is not None:
            self._own_loop.call_soon_threadsafe(self._own_loop.stop)
        if self._on_close is not None:
            self._on_close()

    # -- calls --------------------------------------------------------------------------------

    async def _call(self, model: str, call: Any) -> Any:
        try:
            return await call
        except self._server_error as exc:
            self._inputs.pop(model, None)  # it may have been reloaded with other inputs
            raise from_triton(self._runner, model, exc, self._timeout) from None
        except (TimeoutError, OSError) as exc:
            raise unreachable(self._runner, exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith("aiohttp"):
                raise unreachable(self._runner, exc) from None
            raise

    async def _input_names(self, model: str) -> list[str]:
        names = self._inputs.get(model)
        if names is None:
            client = self._client()
            metadata = await self._call(model, self._metadata(client, model))
            names = [entry["name"] for entry in metadata["inputs"]]
            self._inputs[model] = names
        return names

    def _metadata(self, client: Any, model: str) -> Any:
        if self._protocol == "grpc":
            return client.get_model_metadata(model, as_json=True, client_timeout=self._timeout)
        return client.get_model_metadata(model)

    async def _infer(self, model: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        names = await self._input_names(model)
        values = self._named_values(model, names, args, kwargs)
        inputs = []
        for name, value in values.items():
            array = np.asarray(value)
            try:
                datatype = self._to_triton_dtype(array.dtype)
            except Exception:
                datatype = None
            if datatype is None:
                raise bad_call(
                    self._runner,
                    model,
                    f"input {name!r}: dtype {array.dtype} has no Triton type",
                    name,
                )
            tensor = self._types.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        client = self._client()
        if self._protocol == "grpc":
            call = client.infer(model, inputs, client_timeout=self._timeout)
        else:
            call = asyncio.wait_for(client.infer(model, inputs), timeout=self._timeout)
        return await self._call(model, call)

    def _named_values(
        self, model: str, names: list[str], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if args:
            if len(args) != len(names):
                missing = names[len(args) :]
                raise bad_call(
                    self._runner,
                    model,
                    f"model {model!r} takes {len(names)} input(s) {names}, got {len(args)} "
                    "positional argument(s)",
                    missing[0] if missing else None,
                )
            return dict(zip(names, args, strict=True))
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise bad_call(
                self._runner,
                model,
                f"model {model!r} has no input {unknown[0]!r}; its inputs: {names}",
                unknown[0],
            )
        missing = [name for name in names if name not in kwargs]
        if missing:
            raise bad_call(
                self._runner, model, f"model {model!r} needs input {missing[0]!r}", missing[0]
            )
        return {name: kwargs[name] for name in names}

    async def _manage(self, call: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if call not in MANAGEMENT_CALLS:
            raise InvalidArgument(f"Triton runner {self._runner!r} has no call {call!r}")
        model = str(args[0]) if args else ""
        if call in ("load_model", "unload_model"):
            self._inputs.pop(model, None)
        client = self._client()
        if self._protocol == "grpc":
            kwargs.setdefault("client_timeout", self._timeout)
        return await self._call(model, getattr(client, call)(*args, **kwargs))


def _close_client(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    """Close ``client`` on its loop if that loop still runs (else it goes with the loop)."""
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.create_task(client.close())
    elif loop.is_running():
        closing = asyncio.run_coroutine_threadsafe(client.close(), loop)
        with contextlib.suppress(Exception):
            closing.result(timeout=_READY_TIMEOUT)

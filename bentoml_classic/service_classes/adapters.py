"""An API method as a function the classic runtime calls: ``func(**inputs)`` from the HTTP
endpoint, ``func(*args, **kwargs)`` from a dependency's caller, either way on the class's one
instance in this process.

A batchable method's calls go through the batching drivers runner methods use
(``batching/caller_batchers.py``): concurrent calls in one worker are queued, joined along
``batch_dim`` into one call of the method, and its result is cut back into each caller's share.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ..batching.caller_batchers import AsyncBatcher, BlockingBatcher
from ..batching.policy import BatchPolicy
from ..composition.handle import calls_from
from .instance import InstanceHolder
from .options import ApiOptions


def _without_self(method: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(method)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def batch_policy(options: ApiOptions) -> BatchPolicy:
    return BatchPolicy(
        max_batch_size=options.max_batch_size,
        max_latency_s=options.max_latency_ms / 1000,
        input_dim=options.input_dim,
        output_dim=options.output_dim,
    )


class _AsyncBatchers:
    """One ``AsyncBatcher`` per event loop (a worker has one; a test may run several)."""

    def __init__(self, send: Callable[..., Any], policy: BatchPolicy) -> None:
        self._send = send
        self._policy = policy
        self._by_loop: dict[asyncio.AbstractEventLoop, AsyncBatcher] = {}
        self._lock = threading.Lock()

    def here(self) -> AsyncBatcher:
        loop = asyncio.get_running_loop()
        batcher = self._by_loop.get(loop)
        if batcher is None:
            with self._lock:
                for stale in [known for known in self._by_loop if known.is_closed()]:
                    del self._by_loop[stale]
                batcher = self._by_loop.setdefault(loop, AsyncBatcher(self._send, self._policy))
        return batcher


def adapter(holder: InstanceHolder, method: Callable[..., Any], options: ApiOptions) -> Any:
    """The function the service's ``InferenceAPI`` holds for ``method``."""
    name = method.__name__

    def bound() -> Callable[..., Any]:
        found: Callable[..., Any] = getattr(holder.get(), name)
        return found

    func: Callable[..., Any]
    if inspect.isasyncgenfunction(method):

        async def stream_async(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            async for item in bound()(*args, **kwargs):
                yield item

        func = stream_async
    elif inspect.isgeneratorfunction(method):

        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            yield from bound()(*args, **kwargs)

        func = stream
    elif inspect.iscoroutinefunction(method):
        func = _async_adapter(bound, options)
    else:
        func = _sync_adapter(bound, options)
    wrapped = functools.wraps(method)(func)
    wrapped.__signature__ = _without_self(method)  # type: ignore[attr-defined]
    return wrapped


def _async_adapter(bound: Callable[[], Callable[..., Any]], options: ApiOptions) -> Any:
    if not options.batchable:

        async def call(*args: Any, **kwargs: Any) -> Any:
            with calls_from(awaits=True):
                return await bound()(*args, **kwargs)

        return call

    async def send(*args: Any, **kwargs: Any) -> Any:
        with calls_from(awaits=True):
            return await bound()(*args, **kwargs)

    batchers = _AsyncBatchers(send, batch_policy(options))

    async def call_batched(*args: Any, **kwargs: Any) -> Any:
        return await batchers.here().call(args, kwargs)

    return call_batched


def _sync_adapter(bound: Callable[[], Callable[..., Any]], options: ApiOptions) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        with calls_from(awaits=False):
            return bound()(*args, **kwargs)

    if not options.batchable:
        return call
    batcher = BlockingBatcher(call, batch_policy(options))

    def call_batched(*args: Any, **kwargs: Any) -> Any:
        return batcher.call(args, kwargs)

    return call_batched

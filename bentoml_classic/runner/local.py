"""``LocalRunnerHandle``: runs a runnable in this process, for ``init_local()``, the
development server and embedded runners.

Batchable methods go through the same batching as in a runner worker (same policy, same queue
bound, same splitting), so that development behaves like production.

Streams: ``stream()`` iterates the generator in the calling thread (a sync API function's pool
thread, as ``run()`` calls the model there); ``async_stream()`` takes each item of a sync
generator in a worker thread, one at a time, so a slow generator never blocks the event loop,
and iterates an async generator on the loop. Nothing is produced ahead of the consumer, so a
slow consumer costs no memory. Leaving early closes the generator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from ..batching.caller_batchers import AsyncBatcher, BlockingBatcher
from ..config import RunnerConfig
from ..generators import aclose_iterator, close_iterator, iterate_on_private_loop, stream_source
from ..metrics.builtin import batch_size_observer
from .policies import resolve_policies

if TYPE_CHECKING:
    from .runner import Runner


#: the ``worker_index`` of batch sizes recorded where the runner runs in its caller's process
LOCAL_WORKER = "local"


class LocalRunnerHandle:
    """``service_name``: the service whose API calls this runner (a label of its batch-size
    metric); none for a runner debugged on its own."""

    def __init__(self, runner: Runner, config: RunnerConfig, service_name: str = "") -> None:
        self._runner_name = runner.name
        self._instance: Any = runner.runnable_class(**runner.runnable_init_params)
        self._blocking: dict[str, BlockingBatcher] = {}
        self._async: dict[str, AsyncBatcher] = {}
        policies = resolve_policies(runner.runner_methods, config)
        largest = max((policy.max_batch_size for policy in policies.values()), default=1)
        for name, policy in policies.items():
            bound = getattr(self._instance, name)
            histogram = None
            if config.metrics.enabled:
                histogram = batch_size_observer(
                    runner.name, name, service_name, LOCAL_WORKER, largest
                )
            self._blocking[name] = BlockingBatcher(bound, policy, histogram=histogram)
            self._async[name] = AsyncBatcher(
                partial(_in_thread, bound), policy, histogram=histogram
            )

    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        batcher = self._blocking.get(method)
        if batcher is not None:
            return batcher.call(args, kwargs)
        return getattr(self._instance, method)(*args, **kwargs)

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        batcher = self._async.get(method)
        if batcher is not None:
            return await batcher.call(args, kwargs)
        return await _in_thread(getattr(self._instance, method), *args, **kwargs)

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        return _stream(getattr(self._instance, method), args, kwargs, method)

    def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        return _async_stream(getattr(self._instance, method), args, kwargs, method)

    async def is_ready(self) -> bool:
        return True

    async def scrape_metrics(self) -> list[str]:
        return []  # recorded in this process, which writes them itself

    def close(self) -> None:
        self._instance = None


async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    # Model code is synchronous and may be slow: keep it off the event loop.
    import anyio.to_thread

    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))


def _stream(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], method: str) -> Iterator[Any]:
    source = stream_source(func(*args, **kwargs), method)
    if isinstance(source, Iterator):
        yield from source  # closing this generator closes the source too
    else:
        yield from iterate_on_private_loop(source)


_DONE = object()


def _next_or_done(iterator: Iterator[Any]) -> Any:
    return next(iterator, _DONE)


async def _async_stream(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], method: str
) -> AsyncIterator[Any]:
    import anyio.to_thread

    # a generator function returns at once, but a plain one that returns a list computes it
    source = stream_source(await _in_thread(func, *args, **kwargs), method)
    if not isinstance(source, Iterator):
        try:
            async for item in source:
                yield item
        finally:
            await aclose_iterator(source)
        return
    try:
        while (item := await anyio.to_thread.run_sync(_next_or_done, source)) is not _DONE:
            yield item
    finally:
        # in a thread too: a generator's finally block is model code, and may be slow
        await anyio.to_thread.run_sync(close_iterator, source)

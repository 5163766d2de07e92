"""A dependency run in the caller's process (``--development``, ``init_local()``, a notebook),
through the same encoding of arguments, results and errors as a call to its workers: a value
that could not cross in production fails here too, and errors reach the caller as they would
from the dependency's workers (``protocol/loopback.py``)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ..generators import aclose_iterator, close_iterator, iterate_on_private_loop, stream_source
from ..protocol.loopback import crossed_answer, crossed_call
from ..protocol.server import RunnerServer
from ..running_loop import running_loop_or_none
from .invoke import api_callable


def _run_coroutine(make: Callable[[], Any]) -> Any:
    """Await ``make()`` from sync code: on a private loop, in another thread when this one
    already runs a loop (a sync API function run on the event loop thread)."""
    if running_loop_or_none() is None:
        return asyncio.run(make())
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = asyncio.run(make())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="dependency-call")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


class LocalServiceHandle:
    """A ``RunnerHandle`` whose methods are ``service``'s API functions, run in this process."""

    def __init__(self, service: Any, state: dict[str, Any] | None = None) -> None:
        self._name: str = service.name
        self.state: dict[str, Any] = {} if state is None else state
        self._functions = {
            name: api_callable(api, self.state) for name, api in service.apis.items()
        }
        # answers encoded exactly as the dependency's workers encode them
        self._answers = RunnerServer(service.name, self._functions)

    def _crossed(self, method: str, result: Any, error: BaseException | None) -> Any:
        frames = self._answers.answer(0, method, result, error)
        return crossed_answer(frames, self._name, method)

    def _function(self, method: str) -> Callable[..., Any]:
        func = self._functions.get(method)
        if func is None:
            raise self._answers.no_such_method(method)
        return func

    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        func = self._function(method)
        args, kwargs = crossed_call(self._name, method, args, kwargs)
        try:
            if inspect.iscoroutinefunction(func):
                result = _run_coroutine(lambda: func(*args, **kwargs))
            else:
                result = func(*args, **kwargs)
        except Exception as exc:
            return self._crossed(method, None, exc)
        return self._crossed(method, result, None)

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        func = self._function(method)
        args, kwargs = crossed_call(self._name, method, args, kwargs)
        try:
            if inspect.iscoroutinefunction(func):
                result = await func(*args, **kwargs)
            else:
                result = await asyncio.to_thread(func, *args, **kwargs)
        except Exception as exc:
            return self._crossed(method, None, exc)
        return self._crossed(method, result, None)

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        func = self._function(method)
        args, kwargs = crossed_call(self._name, method, args, kwargs)
        source = stream_source(func(*args, **kwargs), method)
        items = iterate_on_private_loop(source) if isinstance(source, AsyncIterator) else source
        try:
            for item in items:
                yield self._crossed(method, item, None)
        finally:
            close_iterator(items)

    async def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        func = self._function(method)
        args, kwargs = crossed_call(self._name, method, args, kwargs)
        source = stream_source(func(*args, **kwargs), method)
        if isinstance(source, AsyncIterator):
            try:
                async for item in source:
                    yield self._crossed(method, item, None)
            finally:
                await aclose_iterator(source)
            return
        done = object()
        try:
            while (item := await asyncio.to_thread(next, source, done)) is not done:
                yield self._crossed(method, item, None)
        finally:
            close_iterator(source)

    async def is_ready(self, timeout: float = 1.0) -> bool:
        return True

    async def scrape_metrics(self, timeout: float = 1.0) -> list[str]:
        return []

    def close(self) -> None:
        pass

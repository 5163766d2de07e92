"""A dependency's workers: its APIs served as the methods of a runner protocol server.

The frames, the token on TCP, the handshake, the draining on SIGTERM and the way errors travel
are the runner server's (``protocol/server.py``); what differs is how a call runs. A runner's
methods run one at a time in its model lane; an API function is a request handler, so calls run
side by side as in an API worker: an ``async def`` API as a task on the event loop, a sync one
in a thread of this server's pool. Streams (an API function that yields) go through the runner
server's own stream machinery.

``max_concurrency`` (``services.<name>.traffic.max_concurrency``) bounds the calls in progress;
one over it is shed at once with a 503, which the caller answers with Retry-After.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..batching.inline_batcher import call_alone
from ..exceptions import ServiceUnavailable
from ..metrics.meters import RequestMeter
from ..protocol.server import RunnerServer
from .invoke import api_callable

#: threads for sync API functions, as an API worker's pool allows
SYNC_THREADS = 40


class ServiceServer(RunnerServer):
    def __init__(
        self,
        service: Any,
        state: dict[str, Any],
        *,
        token: bytes | None = None,
        max_concurrency: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        meters: Mapping[str, RequestMeter] | None = None,
    ) -> None:
        """``meters``: by API, where its calls are counted (the runner series, named after the
        service: ``serving/service_worker.py``)."""
        functions = {name: api_callable(api, state) for name, api in service.apis.items()}
        super().__init__(
            service.name, functions, token=token, ssl_context=ssl_context, meters=meters
        )
        # answers leave as each call finishes, many in one loop turn when a runner batch lands
        self.gathers_writes = True
        self._is_async = {name: inspect.iscoroutinefunction(f) for name, f in functions.items()}
        self._max_concurrency = max_concurrency
        self._in_progress = 0
        self._pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix=f"{service.name}-api")
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def no_such_method(self, method_name: str) -> Any:
        from ..exceptions import NotFound

        return NotFound(f"service {self.runner_name!r} has no API {method_name!r}")

    def submit_call(
        self,
        method_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        reply: Callable[[Any, Any], None],
    ) -> None:
        func = self.methods.get(method_name)
        if func is None:
            reply(None, self.no_such_method(method_name))
            return
        limit = self._max_concurrency
        if limit is not None and self._in_progress >= limit:
            reply(None, ServiceUnavailable(f"{limit} calls in progress (max_concurrency)"))
            return
        self._in_progress += 1
        if self._is_async[method_name]:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            task = self._loop.create_task(self._answer_async(func, args, kwargs, reply))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        future = asyncio.get_running_loop().run_in_executor(
            self._pool, call_alone, func, args, kwargs
        )
        self._tasks.add(future)

        def done(finished: asyncio.Future[Any]) -> None:
            self._tasks.discard(finished)
            self._in_progress -= 1
            if finished.cancelled():
                reply(None, ServiceUnavailable("the service is stopping"))
                return
            reply(*finished.result())

        future.add_done_callback(done)

    async def _answer_async(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        reply: Callable[[Any, Any], None],
    ) -> None:
        """An ``async def`` API's call, answered by the task that runs it (no callback after
        it: one task per call is the whole cost of an async call here)."""
        try:
            result = await func(*args, **kwargs)
        except asyncio.CancelledError:
            reply(None, ServiceUnavailable("the service is stopping"))
            raise
        except Exception as exc:
            reply(None, exc)
        else:
            reply(result, None)
        finally:
            self._in_progress -= 1

    def shutdown(self) -> None:
        """After ``serve()`` returned: no call is left to answer; let the threads go."""
        self._pool.shutdown(wait=False, cancel_futures=True)

"""The handle an API worker attaches to each runner that lives in runner worker processes."""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from functools import partial
from typing import Any

from ..batching.caller_batchers import AsyncBatcher, BlockingBatcher
from ..batching.policy import BatchPolicy
from ..running_loop import running_loop_or_none
from .address import Address
from .async_client import AsyncRunnerClient
from .blocking_client import BlockingRunnerClient

logger = logging.getLogger(__name__)


class RemoteRunnerHandle:
    """Calls runner workers; concurrent calls to a batchable method are sent as one frame.

    Coalescing here means the hop to the runner (a frame each way, two process wake-ups) is paid
    once per batch rather than once per request. The runner batches again across API workers.
    Calls wait here while this worker's batches are in flight, so the queue bound and
    ``max_latency_ms`` apply here as well as in the runner. Each frame says how long its oldest
    call has waited here, and the runner counts ``max_latency_ms`` from then: the two queues
    together hold a call no longer than the limit. A call larger than ``max_batch_size`` goes
    alone, and the runner cuts it where its policy says so.
    """

    def __init__(
        self,
        runner_name: str,
        addresses: Sequence[str],
        *,
        token: bytes | None = None,
        timeout: float = 300.0,
        batch_policies: dict[str, BatchPolicy] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        metrics_elsewhere: bool = False,
        gathers_calls: bool = False,
        batches_per_turn: bool = False,
    ) -> None:
        """``metrics_elsewhere``: the runner's workers write their metrics where this process
        cannot read them (a runner server started on its own), so ``/metrics`` asks them for
        their text. ``gathers_calls``: the async calls of one loop turn may share a frame
        (``call_batches.py``): a dependency service's client. ``batches_per_turn``: a batchable
        method's async calls of one loop turn leave in one batch even when a slot is free
        (``AsyncBatcher``'s ``gathers_turn``): a dependency's worker, whose calls come in
        bursts."""
        parsed = [Address.parse(url) for url in addresses]
        self._runner_name = runner_name
        self._metrics_elsewhere = metrics_elsewhere
        self._async = AsyncRunnerClient(
            runner_name, parsed, token, timeout, ssl_context, gathers_calls=gathers_calls
        )
        self._blocking = BlockingRunnerClient(runner_name, parsed, token, timeout, ssl_context)
        self._warned_on_loop = False
        # One batch in flight per runner worker: enough to keep every worker busy.
        in_flight = len(parsed)
        self._blocking_batchers: dict[str, BlockingBatcher] = {}
        self._async_batchers: dict[str, AsyncBatcher] = {}
        for name, policy in (batch_policies or {}).items():
            # The runner cuts oversized calls; the queue bound and max_latency_ms apply here too,
            # since calls wait here while this worker's batches are in flight (and the runner
            # is told how long, so that max_latency_ms bounds both waits together).
            coalescing = dataclasses.replace(policy, split_oversized=False)
            self._blocking_batchers[name] = BlockingBatcher(
                partial(_send_blocking, self._blocking, name),
                coalescing,
                in_flight,
                sends_waited=True,
                relay=True,
            )
            self._async_batchers[name] = AsyncBatcher(
                partial(_send_async, self._async, name),
                coalescing,
                in_flight,
                sends_waited=True,
                relay=True,
                gathers_turn=batches_per_turn,
            )

    def _warn_on_loop(self, method: str, called: str, instead: str) -> None:
        self._warned_on_loop = True
        logger.warning(
            "%s.%s.%s() was called inside an async API: it works, but blocks the event "
            "loop while the runner computes; use `%s.%s.%s(...)` instead",
            self._runner_name,
            method,
            called,
            self._runner_name,
            method,
            instead,
        )

    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # not asyncio.get_running_loop(): in a pool thread, on every sync call, it would raise
        if not self._warned_on_loop and running_loop_or_none() is not None:
            self._warn_on_loop(method, "run", "await async_run")
        batcher = self._blocking_batchers.get(method)
        if batcher is not None:
            return batcher.call(args, kwargs)
        return self._blocking.call(method, args, kwargs)

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        batcher = self._async_batchers.get(method)
        if batcher is not None:
            return await batcher.call(args, kwargs)
        return await self._async.call(method, args, kwargs)

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        if not self._warned_on_loop and running_loop_or_none() is not None:
            self._warn_on_loop(method, "stream", "async for ... in async_stream")
        return self._blocking.stream(method, args, kwargs)

    def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        return self._async.stream(method, args, kwargs)

    async def scrape_metrics(self, timeout: float = 1.0) -> list[str]:
        """Have every runner worker write the figures it holds; from runner servers that are
        deployments of their own, their Prometheus text too. A worker that does not answer in
        time (a model call holding its loop, a restart) is left out, and logged."""
        answers = await self._async.metrics(timeout, text=self._metrics_elsewhere)
        missing = sum(answer is None for answer in answers)
        if missing:  # their figures of the last quarter of a second show at the next scrape
            logger.info(
                "runner %s: %d of %d workers did not answer for /metrics in %.1f s",
                self._runner_name,
                missing,
                len(answers),
                timeout,
            )
        if not self._metrics_elsewhere:
            return []
        return [answer.decode() for answer in answers if answer is not None]

    async def is_ready(self, timeout: float = 1.0) -> bool:
        return await self._async.ping(timeout)

    def close(self) -> None:
        self._async.close()
        self._blocking.close()


def _send_blocking(
    client: BlockingRunnerClient, method: str, waited: float, *args: Any, **kwargs: Any
) -> Any:
    return client.call(method, args, kwargs, waited)


async def _send_async(
    client: AsyncRunnerClient, method: str, waited: float, *args: Any, **kwargs: Any
) -> Any:
    return await client.call(method, args, kwargs, waited)

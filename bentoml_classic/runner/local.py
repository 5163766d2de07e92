"""``LocalRunnerHandle``: runs a runnable in this process, for ``init_local()``, the
development server and embedded runners.

Batchable methods go through the same batching as in a runner worker (same policy, same queue
bound, same splitting), so that development behaves like production.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..batching.caller_batchers import AsyncBatcher, BlockingBatcher
from ..config import RunnerConfig
from .handle import Snapshot
from .policies import resolve_policies

if TYPE_CHECKING:
    from .runner import Runner


class LocalRunnerHandle:
    def __init__(self, runner: Runner, config: RunnerConfig) -> None:
        self._runner_name = runner.name
        self._instance: Any = runner.runnable_class(**runner.runnable_init_params)
        self._blocking: dict[str, BlockingBatcher] = {}
        self._async: dict[str, AsyncBatcher] = {}
        for name, policy in resolve_policies(runner.runner_methods, config).items():
            bound = getattr(self._instance, name)
            histogram = metrics.batch_size_histogram(runner.name, name)
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

    async def is_ready(self) -> bool:
        return True

    async def batch_size_snapshots(self) -> list[tuple[str, list[Snapshot]]]:
        """This process's histograms of this runner, by method."""
        mine = [s for s in metrics.batch_size_snapshot() if s["runner"] == self._runner_name]
        return [("local", sorted(mine, key=lambda snapshot: str(snapshot["method"])))]

    def close(self) -> None:
        self._instance = None


async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    # Model code is synchronous and may be slow: keep it off the event loop.
    import anyio.to_thread

    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))

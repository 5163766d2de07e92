"""The handle an API worker installs on each runner that lives in runner worker processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .client import Address, AsyncRunnerClient, BlockingRunnerClient

if TYPE_CHECKING:
    from .runner import RunnerMethod

logger = logging.getLogger(__name__)


class RemoteRunnerHandle:
    def __init__(
        self,
        runner_name: str,
        addresses: Sequence[str],
        *,
        token: bytes | None = None,
        timeout: float = 300.0,
    ) -> None:
        parsed = [Address.parse(url) for url in addresses]
        self._async = AsyncRunnerClient(runner_name, parsed, token, timeout)
        self._blocking = BlockingRunnerClient(runner_name, parsed, token, timeout)
        self._warned_on_loop = False

    def run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any:
        if not self._warned_on_loop and _on_event_loop():
            self._warned_on_loop = True
            logger.warning(
                "%s.%s.run() was called inside an async API: it works, but blocks the event "
                "loop while the runner computes; use `await %s.%s.async_run(...)` instead",
                method.runner.name,
                method.name,
                method.runner.name,
                method.name,
            )
        return self._blocking.call(method.name, args, kwargs)

    async def async_run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any:
        return await self._async.call(method.name, args, kwargs)

    async def is_ready(self, timeout: float = 1.0) -> bool:
        return await self._async.ping(timeout)

    def close(self) -> None:
        self._async.close()
        self._blocking.close()


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

"""``on_deployment`` hooks: run once per deployment, in the process that starts it."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from ..classic_service import Service


def run_deployment_hooks(svc: Service) -> None:
    for hook in svc.deployment_hooks:
        result = hook()
        if inspect.isawaitable(result):
            asyncio.run(_await(result))


async def _await(awaitable: Any) -> Any:
    return await awaitable

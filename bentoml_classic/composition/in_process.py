"""A whole graph in one process: ``--development``, and an app built without a supervisor
(``build_app`` with its default runner start, ``init_local()``).

Every dependency runs here through ``LocalServiceHandle`` (arguments and results still cross the
runner protocol's encoding), its runners are started here once each, and its lifecycle hooks
run here too, each service with a ``ctx.state`` of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import BentoMLConfig
from ..context import Context
from .handle import attach_transport, detach_transport
from .local import LocalServiceHandle


async def _call_hooks(hooks: list[Any], ctx: Context) -> None:
    for hook in hooks:
        result = hook(ctx)
        if inspect.isawaitable(result):
            await result


async def start_dependencies_here(
    entry: Any, config: BentoMLConfig
) -> Callable[[], Awaitable[None]]:
    """Start the dependencies of ``entry`` in this process; returns what stops them.

    The entry's own runners are left to its caller (``build_app`` starts them)."""
    dependencies = list(entry.all_services().values())[1:]
    started: list[tuple[Any, Context]] = []
    runners_started: list[Any] = []
    own = {runner.name for runner in entry.runners}
    for service in dependencies:
        for runner in service.runners:
            if runner.name not in own and not runner.is_initialized:
                runner.init_local(
                    quiet=True, config=config.runner(runner.name), service_name=service.name
                )
                runners_started.append(runner)
        handle = LocalServiceHandle(service)
        attach_transport(service.name, handle)
        ctx = Context(state=handle.state)
        await _call_hooks(service.startup_hooks, ctx)
        started.append((service, ctx))

    async def stop() -> None:
        for service, ctx in reversed(started):
            await _call_hooks(service.shutdown_hooks, ctx)
            detach_transport(service.name)
        for runner in runners_started:
            runner.destroy()

    return stop

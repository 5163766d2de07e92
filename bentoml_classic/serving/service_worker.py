"""A dependency's worker process: one service of a composed graph, serving its APIs over the
runner protocol (``composition/server.py``) on the socket(s) the arbiter passed it.

It attaches its own runners and dependencies as an API worker does (``dependencies.py``), runs
the service's startup hooks, serves until SIGTERM, then drains and runs the shutdown hooks.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import signal
import socket
from typing import Any

from ..log_format import configure_server_logging, service_component
from .heap import HeapPolicy, apply_heap_policy
from .restart_backoff import StartFailures
from .scheduling import apply_scheduling_policy
from .worker_process import die_with_parent, freeze_startup_objects
from .worker_spec import WorkerSpec, runner_token

logger = logging.getLogger("bentoml_classic.service_worker")


def main() -> None:
    parser = argparse.ArgumentParser(description="bentoml_classic dependency service worker")
    parser.add_argument("--fds", required=True, help="comma-separated listening sockets, by wid")
    parser.add_argument("--wid", type=int, default=1, help="this worker's number (1-based)")
    parser.add_argument("--close-fds", default="", help="inherited sockets this worker closes")
    args = parser.parse_args()
    for fd in filter(None, args.close_fds.split(",")):
        os.close(int(fd))  # the public socket: it must close with the API workers' copies
    fds = [int(fd) for fd in args.fds.split(",")]
    spec = WorkerSpec.from_env()
    configure_server_logging(service_component(spec.service or "?", args.wid))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the arbiter decides when we stop
    die_with_parent()
    apply_scheduling_policy(spec.scheduling_policy)
    apply_heap_policy(HeapPolicy.from_spec(spec.heap))
    serve_service(spec, [socket.socket(fileno=fds[(args.wid - 1) % len(fds)])])


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed, as in runner workers: a dependency's worker is mostly frames."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _call_hooks(hooks: list[Any], ctx: Any) -> None:
    for hook in hooks:
        result = hook(ctx)
        if inspect.isawaitable(result):
            await result


def serve_service(spec: WorkerSpec, sockets: list[socket.socket]) -> None:
    """Serve the service ``spec.service`` of ``spec.target``'s graph on ``sockets``."""
    from ..composition.server import ServiceServer
    from ..config import build_config, load_config
    from ..context import Context
    from ..loader import import_service
    from ..metrics.meters import flush_pending
    from ..protocol import tls
    from .dependencies import attach_remote

    os.chdir(spec.working_dir)
    failures = StartFailures(spec.state_dir, f"service-{spec.service}")
    with failures.starting(f"service {spec.service}", logger):
        entry = import_service(spec.target, spec.working_dir)
        svc = entry.all_services()[spec.service or entry.name]
        config = build_config(spec.config) if spec.config else load_config()
    for sock in sockets:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ssl_context = tls.from_settings(spec.tls, server=False)
    attach_remote(svc, spec, config, ssl_context)
    state: dict[str, Any] = {}
    server = ServiceServer(
        svc,
        state,
        token=runner_token(),
        max_concurrency=config.service(svc.name).traffic.max_concurrency,
        ssl_context=tls.from_settings(spec.tls, server=True),
        meters=_meters(config, svc, entry.name),
    )

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        hook_ctx = Context(state=state)
        await _call_hooks(svc.startup_hooks, hook_ctx)
        freeze_startup_objects()
        logger.info("ready: serving service %s (process %d)", svc.name, os.getpid())
        try:
            await server.serve(sockets, stop, spec.grace_seconds, spec.backlog)
        finally:
            await _call_hooks(svc.shutdown_hooks, hook_ctx)
            server.shutdown()
            flush_pending()  # the figures of its last moments

    with asyncio.Runner(loop_factory=_new_loop) as event_loop:
        event_loop.run(run())


def _meters(config: Any, svc: Any, entry_name: str) -> dict[str, Any]:
    """Where each API's calls are counted: the runner series (``bentoml_runner_request_*``),
    ``runner_name`` the dependency's name, ``service_name`` the entry's, as a runner of the
    graph is counted; ``runners.metrics`` decides (``enabled``, ``namespace``)."""
    settings = config.runner(svc.name).metrics
    if not settings.enabled:
        return {}
    from ..metrics.builtin import RUNNER_NAMESPACE, runner_meter

    namespace = settings.namespace or RUNNER_NAMESPACE
    return {
        name: runner_meter(svc.name, name, entry_name, namespace=namespace) for name in svc.apis
    }


if __name__ == "__main__":
    main()

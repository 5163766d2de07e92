"""A runner worker process: loads one runner's model and serves the runner protocol.

Thread-count variables are applied before anything imports a numeric library, which is why this
module imports the service (and with it numpy, torch, ...) only inside ``main``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import Any

from ..log_format import configure_server_logging, runner_component
from .heap import HeapPolicy, apply_heap_policy
from .restart_backoff import StartFailures
from .scheduling import apply_scheduling_policy
from .stuck_model import watch_for_a_stuck_model
from .worker_process import die_with_parent, freeze_startup_objects
from .worker_spec import WorkerSpec, runner_token

logger = logging.getLogger("bentoml_classic.runner_worker")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> None:
    parser = argparse.ArgumentParser(description="bentoml_classic runner worker")
    parser.add_argument("--fds", required=True, help="comma-separated listening sockets, by wid")
    parser.add_argument("--wid", type=int, default=1, help="this worker's number (1-based)")
    parser.add_argument("--close-fds", default="", help="inherited sockets this worker closes")
    args = parser.parse_args()
    for fd in filter(None, args.close_fds.split(",")):
        os.close(int(fd))  # the public socket: it must close with the API workers' copies
    serve_runner_worker([int(fd) for fd in args.fds.split(",")], args.wid)


def preload_runner_worker() -> None:
    """Before a preforking parent forks this runner's workers (``prefork.py``): apply their
    environment (one for all: only such runners are preforked, since thread counts must be set
    before the framework loads) and import the service module, and with it the model's
    libraries. A module that fails to import is left to each worker, which reports it and
    waits before exiting as an unforked worker does."""
    spec = WorkerSpec.from_env()
    if spec.worker_envs:
        os.environ.update(spec.worker_envs[0])
    from ..loader import import_service

    preload_runner_modules(metrics=spec.metrics.get("enabled", True))
    os.chdir(spec.working_dir)
    try:
        import_service(spec.target, spec.working_dir)
    except Exception as exc:  # each worker fails on it again, with the restart backoff
        logger.warning("preloading %s failed (%s): the workers will report it", spec.target, exc)


def preload_runner_modules(*, metrics: bool) -> None:
    """What ``serve_runner`` imports besides the service: imported before the fork, they are
    held once by the preforker instead of once per worker."""
    from ..batching.policy import BatchPolicy  # noqa: F401
    from ..metrics.meters import flush_pending  # noqa: F401
    from ..protocol import tls  # noqa: F401
    from ..protocol.server import RunnerServer  # noqa: F401

    if metrics:
        from ..metrics import builtin  # noqa: F401
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401


def serve_runner_worker(fds: list[int], wid: int) -> None:
    """Serve the spec's runner as worker ``wid`` on ``fds[(wid - 1) % len(fds)]``."""
    spec = WorkerSpec.from_env()
    configure_server_logging(runner_component(spec.runner or "?", wid))
    # The arbiter decides when we stop: a terminal's Ctrl-C reaches the whole process group, and
    # a runner that quit at once would fail the requests the API workers are still draining.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    apply_scheduling_policy(spec.scheduling_policy)
    apply_heap_policy(HeapPolicy.from_spec(spec.heap))
    if spec.worker_envs:
        os.environ.update(spec.worker_envs[(wid - 1) % len(spec.worker_envs)])
    serve_runner(spec, [socket.socket(fileno=fds[(wid - 1) % len(fds)])], wid)


def serve_runner(spec: WorkerSpec, sockets: list[socket.socket], worker_index: int = 1) -> None:
    """Load the runner named in ``spec`` and serve it on ``sockets`` until SIGTERM;
    ``worker_index``: this worker's number among the runner's (a label of its metrics)."""
    from ..batching.policy import BatchPolicy
    from ..loader import import_service
    from ..metrics.meters import flush_pending
    from ..protocol import tls
    from ..protocol.server import RunnerServer

    os.chdir(spec.working_dir)
    failures = StartFailures(spec.state_dir, spec.runner or "")
    with failures.starting(f"runner {spec.runner}", logger):
        svc = import_service(spec.target, spec.working_dir)
        # a runner of the entry, or of a service it depends on
        runners = {r.name: r for s in svc.all_services().values() for r in s.runners}
        runner = runners.get(spec.runner or "")
        if runner is None:
            raise SystemExit(
                f"service {svc.name!r} has no runner {spec.runner!r}; its graph has {list(runners)}"
            )
        instance = runner.runnable_class(**runner.runnable_init_params)
    methods = {name: getattr(instance, name) for name in runner.runner_methods}
    for sock in sockets:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # resolved by the arbiter (the configuration is not loaded here: see WorkerSpec)
    policies = {name: BatchPolicy(**fields) for name, fields in spec.batch_policies.items()}
    meters, batch_sizes = _metrics(spec, svc.name, runner.name, list(methods), worker_index)
    server = RunnerServer(
        runner.name,
        methods,
        token=runner_token(),
        batch_policies=policies,
        ssl_context=tls.from_settings(spec.tls, server=True),
        meters=meters,
        batch_sizes=batch_sizes,
    )

    if spec.stuck_after_s is not None:
        watch_for_a_stuck_model(lambda: server.busy_since, spec.stuck_after_s)

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        freeze_startup_objects()
        logger.info("ready (process %d)", os.getpid())
        await server.serve(sockets, stop, spec.grace_seconds, spec.backlog)
        flush_pending()  # the figures of its last moments

    with asyncio.Runner(loop_factory=_new_loop) as event_loop:
        event_loop.run(run())


def _metrics(
    spec: WorkerSpec, service_name: str, runner_name: str, methods: list[str], worker_index: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where this worker counts each method's requests, and records each batchable method's
    batch sizes (nothing when ``runners.metrics.enabled`` is false)."""
    if not spec.metrics.get("enabled", True):
        return {}, {}
    from ..metrics.builtin import RUNNER_NAMESPACE, batch_size_observer, runner_meter

    namespace = spec.metrics.get("namespace") or RUNNER_NAMESPACE
    meters = {
        method: runner_meter(runner_name, method, service_name, namespace=namespace)
        for method in methods
    }
    largest = max((int(p["max_batch_size"]) for p in spec.batch_policies.values()), default=1)
    batch_sizes = {
        method: batch_size_observer(
            runner_name, method, service_name, str(worker_index), largest, deferred=True
        )
        for method in spec.batch_policies
    }
    return meters, batch_sizes


if __name__ == "__main__":
    main()

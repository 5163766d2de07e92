"""A gRPC API worker process: the service's ``GrpcApiServer`` on the shared gRPC port.

Started by ``grpc_tier.py``'s watcher; what to serve comes in the worker spec, as for the HTTP
API workers (``api_worker.py``), whose way of reaching the runners this shares.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from ..log_format import api_worker_component, configure_server_logging
from .heap import HeapPolicy, apply_heap_policy
from .scheduling import apply_scheduling_policy
from .worker_process import die_with_parent, freeze_startup_objects
from .worker_spec import WorkerSpec


def main() -> None:
    parser = argparse.ArgumentParser(description="bentoml_classic gRPC API worker")
    parser.add_argument("--wid", type=int, default=1, help="this worker's number (1-based)")
    args = parser.parse_args()
    serve_grpc_worker(args.wid)


def serve_grpc_worker(wid: int) -> None:
    """Serve the spec's service over gRPC until SIGTERM or SIGINT."""
    configure_server_logging(api_worker_component(wid))
    die_with_parent()
    spec = WorkerSpec.from_env()
    apply_scheduling_policy(spec.scheduling_policy)
    apply_heap_policy(HeapPolicy.from_spec(spec.heap))
    sys.setswitchinterval(0.001)  # as api_worker.py, for the pool threads' answers

    from ..config import build_config, load_config
    from ..grpc_server.server import GrpcApiServer, GrpcTls, serve_until_signalled
    from ..loader import import_service
    from ..protocol import tls
    from ..runner.runner import Runner
    from .dependencies import attach_dependencies
    from .dependencies import start_runner as start_runner_from_spec

    os.chdir(spec.working_dir)
    svc = import_service(spec.target, spec.working_dir)
    config = build_config(spec.config) if spec.config else load_config()
    ssl_context = tls.from_settings(spec.tls, server=False)
    # a composed service's dependencies, reached as the HTTP tier reaches them
    attach_dependencies(svc, spec, config, ssl_context)

    def start_runner(runner: Runner) -> None:
        # the HTTP tier's rule (dependencies.py): embedded, over the protocol, or Triton
        start_runner_from_spec(runner, svc.name, spec, config, ssl_context)

    grpc_tls = None
    if spec.grpc_tls:
        files = spec.grpc_tls
        grpc_tls = GrpcTls(str(files["certfile"]), str(files["keyfile"]), files.get("ca_certs"))
    server = GrpcApiServer(
        svc, config, development=spec.development, start_runner=start_runner, tls=grpc_tls
    )
    grpc_config = config.api_server.grpc
    freeze_startup_objects()
    asyncio.run(
        serve_until_signalled(server, grpc_config.host, grpc_config.port, spec.grace_seconds)
    )


if __name__ == "__main__":
    main()

"""An API worker process: uvicorn serving the service's ASGI app on a socket Circus passed us."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

from ..log_format import api_worker_component, configure_server_logging
from .heap import HeapPolicy, apply_heap_policy
from .scheduling import apply_scheduling_policy
from .worker_process import die_with_parent, freeze_startup_objects
from .worker_spec import WorkerSpec

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger("bentoml_classic.api_worker")


def _listening_socket(fd: int) -> socket.socket:
    # socket(fileno=) asks the kernel for the family, so a TCP socket is known as one (uvicorn's
    # own --fd path assumes AF_UNIX, and asyncio then skips TCP_NODELAY on accepted sockets).
    sock = socket.socket(fileno=fd)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _server(config: uvicorn.Config, service_name: str) -> uvicorn.Server:
    """uvicorn's server, which says in the log once this worker serves (uvicorn's own lines
    for that are four per worker, below its warning level here)."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                logger.info("ready: serving %s", service_name)

    return AnnouncingServer(config)


def main() -> None:
    parser = argparse.ArgumentParser(description="bentoml_classic API worker (started by serve)")
    parser.add_argument("--fd", type=int, required=True, help="listening socket from Circus")
    parser.add_argument("--wid", type=int, default=1, help="this worker's number (1-based)")
    args = parser.parse_args()
    serve_api_worker(args.fd, args.wid)


def preload_api_worker() -> None:
    """Import what every API worker imports, before a preforking parent forks them
    (``prefork.py``): the HTTP stack and the service module. Nothing that starts a thread or
    an event loop: each worker starts its own after the fork."""
    spec = WorkerSpec.from_env()
    from ..loader import import_service

    preload_http_stack()
    os.chdir(spec.working_dir)
    import_service(spec.target, spec.working_dir)


def preload_http_stack() -> None:
    """What every API worker imports besides the service module and its libraries."""
    import uvicorn  # noqa: F401

    from ..config import build_config, load_config  # noqa: F401
    from ..http.app import build_app  # noqa: F401
    from ..http.uvicorn_protocol import http_protocol  # noqa: F401
    from ..protocol import tls  # noqa: F401
    from ..protocol.remote import RemoteRunnerHandle  # noqa: F401
    from ..runner.runner import Runner  # noqa: F401
    from . import dependencies, http_tls  # noqa: F401

    _preload_uvicorn_choices()


def _preload_uvicorn_choices() -> None:
    """What ``uvicorn.Config.load`` imports in each worker: its event loop (uvloop), its
    websockets protocol and its lifespan handler, each a module a worker would otherwise
    import, and hold privately, after the fork."""
    import importlib

    for module in (
        "uvloop",
        "uvicorn.loops.auto",
        "uvicorn.lifespan.on",
        "uvicorn.protocols.websockets.auto",
    ):
        try:
            importlib.import_module(module)
        except ImportError:  # an optional extra that is not installed: the worker does without
            continue


def serve_api_worker(fd: int, wid: int) -> None:
    """Serve the spec's service on the listening socket ``fd`` until SIGTERM or SIGINT."""
    configure_server_logging(api_worker_component(wid))
    die_with_parent()
    spec = WorkerSpec.from_env()
    apply_scheduling_policy(spec.scheduling_policy)
    apply_heap_policy(HeapPolicy.from_spec(spec.heap))
    # Sync API functions run in pool threads next to the event loop thread. A thread whose
    # runner answer has arrived waits for the GIL until the holder releases it or the switch
    # interval forces it (5 ms by default): under load that wait showed in the p99. 1 ms keeps
    # it short at a small cost in switching.
    sys.setswitchinterval(0.001)

    import uvicorn

    from ..config import build_config, load_config
    from ..http.app import build_app
    from ..http.uvicorn_protocol import http_protocol
    from ..loader import import_service
    from ..protocol import tls
    from ..runner.runner import Runner
    from .dependencies import attach_dependencies, graph_readiness
    from .dependencies import start_runner as start_runner_from_spec
    from .http_tls import http_tls_from_spec

    os.chdir(spec.working_dir)
    svc = import_service(spec.target, spec.working_dir)
    # the arbiter's configuration, with its command line's arguments written over it
    config = build_config(spec.config) if spec.config else load_config()
    https = http_tls_from_spec(spec.http_tls)
    ssl_context = tls.from_settings(spec.tls, server=False)

    def start_runner(runner: Runner) -> None:
        start_runner_from_spec(runner, svc.name, spec, config, ssl_context)

    attach_dependencies(svc, spec, config, ssl_context)
    app = build_app(
        svc,
        config,
        development=spec.development,
        start_runner=start_runner,
        graph_ready=graph_readiness(svc, spec, config, ssl_context),
    )
    server = _server(
        uvicorn.Config(
            app,
            lifespan="on",
            # a response's head and body in one write: one segment, one wake-up of the client
            http=http_protocol(config.api_server.http.header_timeout),
            # uvicorn's own access log formats a line on the loop per request; ours does not
            # (http/access_log.py), and its lines are formatted by our handlers (log_format.py)
            access_log=False,
            log_config=None,
            server_header=False,
            # Nothing here reads the client address; X-Forwarded-* parsing would cost every
            # request a middleware layer for nothing.
            proxy_headers=False,
            log_level="warning",
            timeout_graceful_shutdown=int(spec.grace_seconds),
            timeout_keep_alive=config.api_server.timeouts.keep_alive,
            # asyncio listens on the inherited socket again, with this backlog
            backlog=config.api_server.backlog,
            # the arbiter built this context once already, so a bad setting never gets here
            **(https.uvicorn_options() if https else {}),
        ),
        svc.name,
    )
    freeze_startup_objects()
    server.run(sockets=[_listening_socket(fd)])


if __name__ == "__main__":
    main()

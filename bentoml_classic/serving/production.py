"""``bentoml serve``: the production topology, under a Circus arbiter in the foreground."""

from __future__ import annotations

import os

from ..config import BentoMLConfig, load_config
from .arbiter import make_arbiter, quiet_circus
from .hooks import run_deployment_hooks
from .resources import available_cpus
from .sockets import private_socket_dir, tcp_socket
from .watchers import api_watcher, runner_sockets, runner_watcher


def serve_production(
    target: str,
    *,
    working_dir: str = ".",
    host: str | None = None,
    port: int | None = None,
    api_workers: int | None = None,
    development: bool = False,
    config: BentoMLConfig | None = None,
) -> None:
    """Run the arbiter in the foreground until SIGINT/SIGTERM.

    ``config`` defaults to the configuration of this process (``BENTOML_CONFIG``, ...).
    """
    from ..loader import import_service

    working_dir = os.path.abspath(working_dir)
    config = config or load_config()
    host = host or config.api_server.http.host
    port = config.api_server.http.port if port is None else port
    workers = api_workers or config.api_server.workers or available_cpus()
    grace = config.api_server.graceful_shutdown_timeout
    svc = import_service(target, working_dir)
    run_deployment_hooks(svc)
    quiet_circus()
    with private_socket_dir() as socket_dir:
        by_runner = runner_sockets(svc, config, socket_dir)
        watchers = [
            runner_watcher(
                target,
                working_dir,
                runner,
                config,
                by_runner[runner.name],
                grace_seconds=grace,
                state_dir=socket_dir,
                foreign_sockets=("api",),
            )
            for runner in svc.runners
            if runner.name in by_runner
        ]
        runner_map = {
            name: [f"file://{sock.path}" for sock in socks] for name, socks in by_runner.items()
        }
        public = tcp_socket("api", host, port)
        watchers.append(
            api_watcher(
                target,
                working_dir,
                "api",
                runner_map,
                workers=workers,
                development=development,
                grace_seconds=grace,
                scheduling_policy=config.api_server.scheduling_policy,
            )
        )
        sockets = [public, *(sock for socks in by_runner.values() for sock in socks)]
        arbiter = make_arbiter(watchers, sockets, socket_dir, public=("api",))
        shown_host = f"[{host}]" if ":" in host else host
        print(
            f"Serving {svc.name} on http://{shown_host}:{port} with {workers} API worker(s) and "
            f"{sum(len(s) for s in by_runner.values())} runner worker(s) (Press CTRL+C to quit)",
            flush=True,
        )
        arbiter.start()

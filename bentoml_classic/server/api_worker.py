"""An API worker process: uvicorn serving the service's ASGI app on a socket Circus passed us."""

from __future__ import annotations

import argparse
import os
import socket

from .worker_process import die_with_parent
from .worker_spec import WorkerSpec, runner_token


def _listening_socket(fd: int) -> socket.socket:
    # socket(fileno=) asks the kernel for the family, so a TCP socket is known as one (uvicorn's
    # own --fd path assumes AF_UNIX, and asyncio then skips TCP_NODELAY on accepted sockets).
    sock = socket.socket(fileno=fd)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description="bentoml_classic API worker (started by serve)")
    parser.add_argument("--fd", type=int, required=True, help="listening socket from Circus")
    args = parser.parse_args()
    die_with_parent()
    spec = WorkerSpec.from_env()

    import uvicorn

    from ..config import load_config
    from ..loader import import_service
    from ..runner.remote import RemoteRunnerHandle
    from ..runner.runner import Runner
    from .http_app import build_app

    os.chdir(spec.working_dir)
    svc = import_service(spec.target, spec.working_dir)
    config = load_config()
    token = runner_token()

    def start_runner(runner: Runner) -> None:
        addresses = spec.runner_map.get(runner.name)
        if addresses is None:  # embedded: this process hosts it
            runner.init_local(quiet=True)
            return
        runner._set_handle(
            RemoteRunnerHandle(
                runner.name, addresses, token=token, timeout=config.runner(runner.name).timeout
            )
        )

    app = build_app(svc, development=spec.development, start_runner=start_runner)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="on",
            access_log=False,
            server_header=False,
            log_level="warning",
            timeout_graceful_shutdown=int(spec.grace_seconds),
        )
    )
    server.run(sockets=[_listening_socket(args.fd)])


if __name__ == "__main__":
    main()

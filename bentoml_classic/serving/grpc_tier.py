"""``bentoml serve-grpc`` and ``start_grpc_server``: the gRPC front door in the production
topology, and in one process for ``--development``.

The same topology as ``bentoml serve``: a Circus arbiter in the foreground supervises the API
workers (here ``grpc_worker.py``) and the runners' workers, unchanged, on their private Unix
sockets. The gRPC workers share the public port through ``SO_REUSEPORT``, each binding it
itself (gRPC cannot serve a socket handed to it); the arbiter first binds the port the same way
and keeps it, so that a port taken by another program stops start-up here with a message, not
a worker restarting forever. The arguments are written over their ``api_server.grpc.*`` keys,
and the workers are handed the resulting configuration, as the HTTP tier's are.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any

from ..config import BentoMLConfig, as_settings, load_config, with_settings
from ..exceptions import BentoMLConfigException, InvalidArgument
from ..log_format import SUPERVISOR, configure_server_logging
from .arbiter import make_arbiter, quiet_circus
from .backends import Backends, backend_watchers
from .deployment_plan import plan_deployment
from .metrics_dir import metrics_directory
from .resources import available_cpus, thread_env
from .sockets import private_socket_dir
from .watchers import _worker_env
from .worker_spec import WorkerSpec


def grpc_settings(
    config: BentoMLConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    reflection: bool | None = None,
    channelz: bool | None = None,
    max_concurrent_streams: int | None = None,
) -> BentoMLConfig:
    """``config`` with the gRPC arguments that were given written over their keys."""
    settings: dict[str, Any] = {}
    if host is not None:
        settings["api_server.grpc.host"] = host
    if port is not None:
        settings["api_server.grpc.port"] = port
    if reflection is not None:
        settings["api_server.grpc.reflection.enabled"] = bool(reflection)
    if channelz is not None:
        settings["api_server.grpc.channelz.enabled"] = bool(channelz)
    if max_concurrent_streams is not None:
        settings["api_server.grpc.max_concurrent_streams"] = max_concurrent_streams
    return with_settings(config, settings) if settings else config


def grpc_tls_files(
    ssl_certfile: str | None, ssl_keyfile: str | None, ssl_ca_certs: str | None
) -> dict[str, str | None]:
    """The TLS files, checked now (readable, both halves): a bad one stops start-up here."""
    if ssl_certfile is None and ssl_keyfile is None:
        if ssl_ca_certs is not None:
            raise InvalidArgument("--ssl-ca-certs needs --ssl-certfile and --ssl-keyfile")
        return {}
    if ssl_certfile is None or ssl_keyfile is None:
        raise InvalidArgument("gRPC over TLS needs both --ssl-certfile and --ssl-keyfile")
    files = {"certfile": ssl_certfile, "keyfile": ssl_keyfile, "ca_certs": ssl_ca_certs}
    for what, path in files.items():
        if path is not None and not os.access(path, os.R_OK):
            raise InvalidArgument(f"--ssl-{what.replace('_', '-')} {path!r} cannot be read")
    return {key: os.path.abspath(value) if value else None for key, value in files.items()}


def _check_channelz(config: BentoMLConfig) -> None:
    if config.api_server.grpc.channelz.enabled:
        try:
            import grpc_channelz  # noqa: F401
        except ImportError:
            raise BentoMLConfigException(
                "api_server.grpc.channelz.enabled (--enable-channelz) needs grpcio-channelz: "
                "pip install grpcio-channelz"
            ) from None


@contextlib.contextmanager
def reserved_port(host: str, port: int) -> Iterator[int]:
    """Bind ``host:port`` with ``SO_REUSEPORT`` (as gRPC binds it) and hold it while the
    deployment runs: a port another program holds is an error now. Port 0 picks one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BentoMLConfigException(
                f"cannot listen on {host}:{port} for gRPC: {exc.strerror}"
            ) from None
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def serve_grpc_production(
    target: str,
    *,
    working_dir: str = ".",
    host: str | None = None,
    port: int | None = None,
    api_workers: int | None = None,
    development: bool = False,
    config: BentoMLConfig | None = None,
    reflection: bool | None = None,
    channelz: bool | None = None,
    max_concurrent_streams: int | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
    runner_map: dict[str, list[str]] | None = None,
) -> None:
    """Run the arbiter in the foreground until SIGINT/SIGTERM. With ``runner_map`` the runners
    are servers started on their own (``start_grpc_server``) and only the API workers run."""
    configure_server_logging(SUPERVISOR)
    working_dir = os.path.abspath(working_dir)
    config = grpc_settings(
        config or load_config(),
        host=host,
        port=port,
        reflection=reflection,
        channelz=channelz,
        max_concurrent_streams=max_concurrent_streams,
    )
    _check_channelz(config)
    tls = grpc_tls_files(ssl_certfile, ssl_keyfile, ssl_ca_certs)
    grpc_config = config.api_server.grpc
    workers = api_workers or config.api_server.workers or available_cpus()
    plan = plan_deployment(target, working_dir, config)
    plan.apply_environment()
    quiet_circus()
    with (
        private_socket_dir() as socket_dir,
        reserved_port(grpc_config.host, grpc_config.port) as bound_port,
    ):
        if bound_port != grpc_config.port:  # port 0: every worker must bind the one picked
            config = with_settings(config, {"api_server.grpc.port": bound_port})
        metrics_dir = metrics_directory(socket_dir)
        if runner_map is None:  # the runners, Triton's and a graph's services, supervised here
            backends = backend_watchers(target, working_dir, plan, config, socket_dir, metrics_dir)
            elsewhere = False
        else:  # runners started on their own (start_grpc_server)
            backends = Backends(runner_map=runner_map)
            elsewhere = True
        watchers = backends.watchers
        watchers.append(
            grpc_watcher(
                target,
                working_dir,
                backends.runner_map,
                config,
                service_map=backends.service_map,
                workers=workers,
                development=development,
                grpc_tls=tls,
                metrics_dir=metrics_dir,
                runner_metrics_elsewhere=elsewhere,
            )
        )
        arbiter = make_arbiter(watchers, backends.sockets, socket_dir)
        print(
            f"Serving {plan.service_name} over gRPC on {grpc_config.host}:{bound_port} "
            f"({'TLS' if tls else 'plaintext'}) with {workers} API worker(s); metrics on "
            f"http://{grpc_config.metrics.host}:{grpc_config.metrics.port}/metrics "
            "(Press CTRL+C to quit)",
            flush=True,
        )
        arbiter.start()


def grpc_watcher(
    target: str,
    working_dir: str,
    runner_map: dict[str, list[str]],
    config: BentoMLConfig,
    *,
    workers: int,
    development: bool,
    grpc_tls: dict[str, str | None],
    metrics_dir: str | None,
    runner_metrics_elsewhere: bool = False,
    tls: dict[str, str | None] | None = None,
    service_map: dict[str, list[str]] | None = None,
) -> Any:
    """Watcher for the gRPC API workers; ``tls``: files for calling ``tcps://`` runners."""
    import sys

    from circus.watcher import Watcher

    from .metrics_dir import reap_hooks

    spec = WorkerSpec(
        target=target,
        working_dir=working_dir,
        development=development,
        runner_map=runner_map,
        service_map=dict(service_map or {}),
        grace_seconds=config.grace_seconds,
        scheduling_policy=config.api_server.scheduling_policy,
        heap=config.api_server.heap.model_dump(),
        tls=dict(tls or {}),
        config=as_settings(config),
        grpc_tls=grpc_tls,
        runner_metrics_elsewhere=runner_metrics_elsewhere,
    )
    return Watcher(
        name="api_server",
        cmd=sys.executable,
        args=["-m", "bentoml_classic.serving.grpc_worker", "--wid", "$(circus.wid)"],
        numprocesses=workers,
        copy_env=True,
        env=_worker_env({**spec.to_env(), **thread_env(1)}, metrics_dir),
        hooks=reap_hooks(metrics_dir, preforked=False),
        stop_signal=15,
        graceful_timeout=config.grace_seconds + 1,
        max_retry=-1,
        priority=1,
    )


def serve_grpc_development(
    target: str,
    *,
    working_dir: str = ".",
    config: BentoMLConfig | None = None,
    tls: dict[str, str | None] | None = None,
) -> None:
    """``--development``: one process, runners in it, the service imported here."""
    from ..grpc_server.server import GrpcApiServer, GrpcTls, serve_until_signalled
    from ..loader import import_service
    from ..log_format import api_worker_component

    configure_server_logging(api_worker_component(1))
    config = config or load_config()
    _check_channelz(config)
    working_dir = os.path.abspath(working_dir)
    os.chdir(working_dir)
    svc = import_service(target, working_dir)
    grpc_config = config.api_server.grpc
    grpc_tls = None
    if tls:
        grpc_tls = GrpcTls(str(tls["certfile"]), str(tls["keyfile"]), tls.get("ca_certs"))
    server = GrpcApiServer(svc, config, development=True, tls=grpc_tls)
    print(
        f"Serving {svc.name} over gRPC on {grpc_config.host}:{grpc_config.port} "
        "(development: one process) (Press CTRL+C to quit)",
        flush=True,
    )
    asyncio.run(
        serve_until_signalled(server, grpc_config.host, grpc_config.port, config.grace_seconds)
    )

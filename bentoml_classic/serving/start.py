"""Start one tier at a time (classic's ``bentoml.start``), for runners on other hosts than the
API servers, or for running the two tiers under separate supervisors::

    start_runner_server("service:svc", ".", "iris_clf", port=3001)                   # host A
    start_http_server("service:svc", {"iris_clf": "tcp://hostA:3001"}, ".", port=3000)  # host B

The signatures are classic BentoML 1.1's, in its order; the options this package adds
(``token``, ``config``, TLS to the runners) are keyword-only, and ``bento=`` still names the
service as it did before ``bento_identifier``.

A runner server on TCP demands a shared token from every peer before it reads a payload, and
the HTTP server presents it: ``token=`` / ``--token``, else ``BENTOML_RUNNER_TOKEN``, else, for
tiers on one host, a token the first of them writes to ``$BENTOML_HOME`` (``runner_token.py``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..config import BentoMLConfig, load_config
from ..exceptions import InvalidArgument
from ..log_format import SUPERVISOR, configure_server_logging
from .arbiter import make_arbiter, quiet_circus
from .arguments import bento_identifier as identifier_of
from .arguments import http_tier, runner_settings
from .deployment_plan import runner_plan
from .hooks import run_deployment_hooks
from .metrics_dir import metrics_directory
from .production import public_url
from .resources import available_cpus, worker_envs
from .runner_map import RUNNER_MAP_ENV, parse_runner_map, runner_on_port
from .runner_token import http_server_token, runner_server_token
from .sockets import private_socket_dir, tcp_socket
from .triton_processes import forwarded_triton
from .watchers import api_watcher, runner_watcher
from .worker_spec import TOKEN_ENV

if TYPE_CHECKING:
    from ..classic_service import Service

__all__ = [
    "RUNNER_MAP_ENV",
    "parse_runner_map",
    "start_grpc_server",
    "start_http_server",
    "start_runner_server",
]

logger = logging.getLogger("bentoml_classic.start")


def start_runner_server(
    bento_identifier: str | None = None,
    working_dir: str = ".",
    runner_name: str | None = None,
    port: int | None = None,
    host: str | None = None,
    timeout: float | None = None,
    backlog: int = 2048,
    *,
    bento: str | None = None,
    token: str | None = None,
    config: BentoMLConfig | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
) -> None:
    """Serve one runner of ``bento_identifier`` (``MODULE:SVC``, or a bento tag or folder) on
    ``tcp://host:port`` until stopped.

    ``port`` None: a free one, printed at start; ``host`` None: 127.0.0.1. ``timeout``: the
    runner's ``runners.timeout`` (a model call running longer makes its worker replace itself).
    ``backlog``: connections the listening socket holds. ``config`` defaults to the
    configuration of this process (``BENTOML_CONFIG``, ...). With ``ssl_certfile`` (and
    ``ssl_keyfile``), over TLS (callers name it ``tcps://``); with ``ssl_ca_certs`` too, callers
    must present a certificate that CA signed (protocol/tls.py).
    """
    from ..loader import import_service

    configure_server_logging(SUPERVISOR)
    if not runner_name:
        raise InvalidArgument("no runner named: pass runner_name (--runner-name)")
    target, working_dir = _serving_target(identifier_of(bento_identifier, bento), working_dir)
    tls_files = tls_paths(certfile=ssl_certfile, keyfile=ssl_keyfile, ca_certs=ssl_ca_certs)
    if tls_files:
        from ..protocol.tls import from_settings

        from_settings(tls_files, server=True)  # refuse missing or broken files before starting
    svc = import_service(target, working_dir)
    runner = next((r for r in svc.runners if r.name == runner_name), None)
    if runner is None:
        raise InvalidArgument(
            f"service {svc.name!r} has no runner {runner_name!r}; its runners: "
            f"{[r.name for r in svc.runners]}"
        )
    config = runner_settings(config or load_config(), runner.name, timeout=timeout)
    secret, token_source = runner_server_token(token)
    quiet_circus()
    os.environ[TOKEN_ENV] = secret  # inherited by the workers through Circus's copy_env
    with private_socket_dir() as socket_dir:
        public = tcp_socket("runner", host or "127.0.0.1", 0 if port is None else port, backlog)
        count = len(worker_envs(runner.runnable_class, config.runner(runner.name)))
        plan = runner_plan(runner, svc.runners.index(runner), config)
        # a Triton runner: its tritonserver on a private port, forwarded to (triton_processes.py)
        watchers = (
            [] if plan.triton is None else [forwarded_triton(plan.triton, config.grace_seconds)]
        )
        watcher = runner_watcher(
            target,
            working_dir,
            plan,
            config,
            [public],
            grace_seconds=config.grace_seconds,
            numprocesses=count,  # all workers share the one TCP socket
            state_dir=socket_dir,
            tls=tls_files,
            backlog=backlog,
            metrics_dir=metrics_directory(socket_dir),
        )
        scheme = "tcps" if tls_files else "tcp"
        shown_host = f"[{public.host}]" if ":" in public.host else public.host
        print(
            f"Runner {runner.name} listening on {scheme}://{shown_host}:{public.port} "
            f"(token from {token_source})",
            flush=True,
        )
        make_arbiter([*watchers, watcher], [public], socket_dir).start()


def _serving_target(identifier: str, working_dir: str) -> tuple[str, str]:
    """``(MODULE:SVC, working directory)`` of ``identifier``; a bento tag or folder is served
    from its ``src/`` with its own models (``bentos/serving_target.py``)."""
    from ..bentos.serving_target import resolve_serving_target

    resolved = resolve_serving_target(identifier, working_dir)
    resolved.apply_environment()
    return resolved.service, resolved.working_dir


def _front_door_service(
    target: str, working_dir: str, addresses: dict[str, list[str]], token: str | None
) -> Service:
    """The service a front door (HTTP or gRPC) of a two-tier deployment serves, once the runner
    map is known to name each of its runners and of the services it depends on; the token its
    workers present is put in the environment they inherit (Circus's copy_env)."""
    from ..loader import import_service

    svc = import_service(target, working_dir)
    missing = [r.name for r in svc.runners if not r.embedded and r.name not in addresses]
    if missing:
        raise InvalidArgument(
            f"runner map has no address for runner(s) {missing} of service {svc.name!r}; "
            f"it names {sorted(addresses)}"
        )
    # a dependency service (bentoml_classic.depends) is reached at its address in the map too
    missing = [d.name for d in svc.dependencies() if d.name not in addresses]
    if missing:
        raise InvalidArgument(
            f"runner map has no address for the service(s) {missing} that {svc.name!r} "
            f"depends on (bentoml start-service-server); it names {sorted(addresses)}"
        )
    unknown = sorted(set(addresses) - {r.name for r in svc.runners} - set(svc.all_services()))
    if unknown:
        logger.warning("runner map names runners the service does not have: %s", unknown)
    secret = http_server_token(token, [url for urls in addresses.values() for url in urls])
    if secret is not None:
        os.environ[TOKEN_ENV] = secret
    return svc


def tls_paths(**files: str | None) -> dict[str, str | None]:
    """The TLS files given, as absolute paths (workers run in the working directory); empty
    when none is."""
    if not any(files.values()):
        return {}
    return {name: os.path.abspath(path) if path else None for name, path in files.items()}


def start_http_server(
    bento_identifier: str | None = None,
    runner_map: Mapping[str, str | list[str]] | str | None = None,
    working_dir: str = ".",
    port: int | None = None,
    host: str | None = None,
    backlog: int | None = None,
    api_workers: int | None = None,
    timeout: float | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_keyfile_password: str | None = None,
    ssl_version: int | None = None,
    ssl_cert_reqs: int | None = None,
    ssl_ca_certs: str | None = None,
    ssl_ciphers: str | None = None,
    timeout_keep_alive: int | None = None,
    timeout_graceful_shutdown: float | None = None,
    *,
    bento: str | None = None,
    token: str | None = None,
    config: BentoMLConfig | None = None,
    runner_ssl_ca_certs: str | None = None,
    runner_ssl_certfile: str | None = None,
    runner_ssl_keyfile: str | None = None,
) -> None:
    """Serve the API tier of ``bento_identifier`` (``MODULE:SVC``, or a bento tag or folder),
    calling its runners at the addresses in ``runner_map`` (a mapping or its JSON; default
    ``BENTOML_RUNNER_MAP``).

    Each argument left None takes its configuration key (``config`` defaults to this
    process's): ``port``/``host`` ``api_server.http.*``, ``backlog`` ``api_server.backlog``,
    ``api_workers`` ``api_server.workers``, ``timeout`` ``api_server.traffic.timeout``,
    ``ssl_*`` ``api_server.ssl.*`` (HTTPS when there is a certificate),
    ``timeout_keep_alive`` / ``timeout_graceful_shutdown`` ``api_server.timeouts.*``.
    ``tcps://`` runners are checked against ``runner_ssl_ca_certs`` (else the system's CAs),
    and ``runner_ssl_certfile`` is presented to runners that ask for a client certificate.
    """

    configure_server_logging(SUPERVISOR)
    target, working_dir = _serving_target(identifier_of(bento_identifier, bento), working_dir)
    addresses = parse_runner_map(runner_map)
    config, https = http_tier(
        config or load_config(),
        timeout=timeout,
        backlog=backlog,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_keyfile_password=ssl_keyfile_password,
        ssl_version=ssl_version,
        ssl_cert_reqs=ssl_cert_reqs,
        ssl_ca_certs=ssl_ca_certs,
        ssl_ciphers=ssl_ciphers,
    )
    tls_files = tls_paths(
        ca_certs=runner_ssl_ca_certs, certfile=runner_ssl_certfile, keyfile=runner_ssl_keyfile
    )
    if tls_files:
        from ..protocol.tls import from_settings

        from_settings(tls_files, server=False)  # refuse missing or broken files before starting
    svc = _front_door_service(target, working_dir, addresses, token)
    host = host or config.api_server.http.host
    port = config.api_server.http.port if port is None else port
    workers = api_workers or config.api_server.workers or available_cpus()
    run_deployment_hooks(svc)
    quiet_circus()
    with private_socket_dir() as socket_dir:
        public = tcp_socket("api", host, port, config.api_server.backlog)
        watcher = api_watcher(
            target,
            working_dir,
            "api",
            addresses,
            config,
            workers=workers,
            development=False,
            tls=tls_files,
            http_tls=https,
            metrics_dir=metrics_directory(socket_dir),
            # the runner servers write to directories of their own: /metrics asks them
            runner_metrics_elsewhere=True,
        )
        print(
            f"Serving {svc.name} on {public_url(host, public.port, https is not None)} "
            f"(runners: {addresses})",
            flush=True,
        )
        make_arbiter([watcher], [public], socket_dir, public=("api",)).start()


def start_grpc_server(
    bento_identifier: str | None = None,
    runner_map: Mapping[str, str | list[str]] | str | None = None,
    working_dir: str = ".",
    port: int | None = None,
    host: str | None = None,
    backlog: int | None = None,
    api_workers: int | None = None,
    reflection: bool | None = None,
    channelz: bool | None = None,
    max_concurrent_streams: int | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
    protocol_version: str = "v1",
    *,
    bento: str | None = None,
    token: str | None = None,
    config: BentoMLConfig | None = None,
) -> None:
    """Serve the APIs of ``bento_identifier`` over gRPC (``bentoml.grpc.v1``), calling its
    runners at the addresses in ``runner_map`` (a mapping or its JSON; default
    ``BENTOML_RUNNER_MAP``), as ``start_http_server`` does over HTTP.

    Each argument left None takes its ``api_server.grpc.*`` key (``port``, ``host``,
    ``reflection.enabled``, ``channelz.enabled``, ``max_concurrent_streams``);
    ``api_workers`` ``api_server.workers``. ``ssl_*``: TLS on the gRPC port (with
    ``ssl_ca_certs``, clients must present a certificate it signed). ``backlog`` is accepted
    for classic's signature: gRPC sizes its own listen queue. ``protocol_version``: only
    ``"v1"`` (classic's ``v1alpha1`` is not served).
    """
    from .grpc_tier import serve_grpc_production

    configure_server_logging(SUPERVISOR)
    if protocol_version != "v1":
        raise InvalidArgument(
            f"protocol_version {protocol_version!r}: this server speaks bentoml.grpc.v1 only"
        )
    addresses = parse_runner_map(runner_map)
    config = config or load_config()
    _check_metrics_port(addresses, config)
    # a bento tag or folder too, as the other start functions take (bentos/serving_target.py)
    target, working_dir = _serving_target(identifier_of(bento_identifier, bento), working_dir)
    _front_door_service(target, working_dir, addresses, token)
    serve_grpc_production(
        target,
        working_dir=working_dir,
        host=host,
        port=port,
        api_workers=api_workers,
        config=config,
        reflection=reflection,
        channelz=channelz,
        max_concurrent_streams=max_concurrent_streams,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_ca_certs=ssl_ca_certs,
        runner_map=addresses,
    )


def _check_metrics_port(addresses: dict[str, list[str]], config: BentoMLConfig) -> None:
    """Refuse a gRPC tier whose metrics port is a runner's port on this host.

    Both defaults are 3001: ``api_server.grpc.metrics.port`` is classic's, and
    ``start-runner-server`` leaves 3000 to ``start-http-server``. Whichever started second
    would fail to listen: the runner server outright, the gRPC tier's workers by serving
    without ``/metrics`` while the log sent scrapers to the runner's port."""
    metrics = config.api_server.grpc.metrics
    clash = runner_on_port(addresses, metrics.host, metrics.port)
    if clash is not None:
        raise InvalidArgument(
            f"api_server.grpc.metrics.port {metrics.port} is the port of the runner at {clash}: "
            "set another one for the gRPC tier's /metrics, e.g. BENTOML_CONFIG_OPTIONS="
            f"'api_server.grpc.metrics.port={metrics.port + 1}'"
        )

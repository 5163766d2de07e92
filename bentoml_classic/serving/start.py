"""Start one tier at a time, for runners on other hosts than the API servers.

    start_runner_server("service:svc", runner_name="iris_clf", port=3001)        # host A
    start_http_server("service:svc", runner_map={"iris_clf": "tcp://hostA:3001"})  # host B

A runner server on TCP demands a shared token (``BENTOML_RUNNER_TOKEN`` or ``token=``) from every
peer before it reads a payload; the HTTP server presents the same token.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping

from ..config import BentoMLConfig, load_config
from ..exceptions import InvalidArgument
from .arbiter import make_arbiter, quiet_circus
from .hooks import run_deployment_hooks
from .resources import available_cpus, worker_envs
from .sockets import private_socket_dir, tcp_socket
from .watchers import api_watcher, runner_watcher
from .worker_spec import TOKEN_ENV

logger = logging.getLogger("bentoml_classic.start")

RUNNER_MAP_ENV = "BENTOML_RUNNER_MAP"


def _token(token: str | None) -> str:
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise InvalidArgument(
            f"a runner served on TCP needs a shared token: set {TOKEN_ENV} (or pass --token) "
            "to the same secret on the runner server and on the HTTP server"
        )
    return token


def start_runner_server(
    bento: str,
    working_dir: str = ".",
    runner_name: str | None = None,
    host: str = "127.0.0.1",
    port: int = 3001,
    *,
    token: str | None = None,
    config: BentoMLConfig | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
) -> None:
    """Serve one runner of ``bento`` (``MODULE:SVC``) on ``tcp://host:port`` until stopped.

    ``config`` defaults to the configuration of this process (``BENTOML_CONFIG``, ...). With
    ``ssl_certfile`` (and ``ssl_keyfile``), over TLS (callers name it ``tcps://``); with
    ``ssl_ca_certs`` too, callers must present a certificate that CA signed (protocol/tls.py).
    """
    from ..loader import import_service

    working_dir = os.path.abspath(working_dir)
    secret = _token(token)
    tls_files = _tls_files(certfile=ssl_certfile, keyfile=ssl_keyfile, ca_certs=ssl_ca_certs)
    if tls_files:
        from ..protocol.tls import from_settings

        from_settings(tls_files, server=True)  # refuse missing or broken files before starting
    svc = import_service(bento, working_dir)
    runner = next((r for r in svc.runners if r.name == runner_name), None)
    if runner is None:
        raise InvalidArgument(
            f"service {svc.name!r} has no runner {runner_name!r}; its runners: "
            f"{[r.name for r in svc.runners]}"
        )
    config = config or load_config()
    quiet_circus()
    os.environ[TOKEN_ENV] = secret  # inherited by the workers through Circus's copy_env
    with private_socket_dir() as socket_dir:
        public = tcp_socket("runner", host, port)
        count = len(worker_envs(runner.runnable_class, config.runner(runner.name)))
        watcher = runner_watcher(
            bento,
            working_dir,
            runner,
            config,
            [public],
            grace_seconds=config.api_server.graceful_shutdown_timeout,
            numprocesses=count,  # all workers share the one TCP socket
            state_dir=socket_dir,
            tls=tls_files,
        )
        scheme = "tcps" if tls_files else "tcp"
        print(f"Runner {runner.name} listening on {scheme}://{host}:{public.port}", flush=True)
        make_arbiter([watcher], [public], socket_dir).start()


def _tls_files(**files: str | None) -> dict[str, str | None]:
    """The TLS files given, as absolute paths (workers run in the working directory); empty
    when none is."""
    if not any(files.values()):
        return {}
    return {name: os.path.abspath(path) if path else None for name, path in files.items()}


def parse_runner_map(
    runner_map: Mapping[str, str | list[str]] | str | None,
) -> dict[str, list[str]]:
    """Accept a mapping or its JSON text; fall back to BENTOML_RUNNER_MAP."""
    from ..protocol.address import Address

    if runner_map is None:
        runner_map = os.environ.get(RUNNER_MAP_ENV)
        if runner_map is None:
            raise InvalidArgument(f"no runner map: pass --runner-map or set {RUNNER_MAP_ENV}")
    if isinstance(runner_map, str):
        try:
            runner_map = json.loads(runner_map)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"runner map is not valid JSON: {exc}") from exc
    if not isinstance(runner_map, Mapping):
        raise InvalidArgument('runner map must be a JSON object: {"runner": "tcp://host:port"}')
    parsed: dict[str, list[str]] = {}
    for name, value in runner_map.items():
        urls = [value] if isinstance(value, str) else value
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise InvalidArgument(f"runner map entry {name!r} must be an address or a list of them")
        for url in urls:
            Address.parse(url)  # validates, with a message naming the address
        parsed[name] = list(urls)
    return parsed


def start_http_server(
    bento: str,
    runner_map: Mapping[str, str | list[str]] | str | None = None,
    working_dir: str = ".",
    host: str = "127.0.0.1",
    port: int = 3000,
    api_workers: int | None = None,
    *,
    token: str | None = None,
    config: BentoMLConfig | None = None,
    runner_ssl_ca_certs: str | None = None,
    runner_ssl_certfile: str | None = None,
    runner_ssl_keyfile: str | None = None,
) -> None:
    """Serve the API tier of ``bento``, calling its runners at the addresses in ``runner_map``.

    ``config`` defaults to the configuration of this process (``BENTOML_CONFIG``, ...).
    ``tcps://`` runners are checked against ``runner_ssl_ca_certs`` (else the system's CAs),
    and ``runner_ssl_certfile`` is presented to runners that ask for a client certificate.
    """
    from ..loader import import_service

    working_dir = os.path.abspath(working_dir)
    addresses = parse_runner_map(runner_map)
    svc = import_service(bento, working_dir)
    missing = [r.name for r in svc.runners if not r.embedded and r.name not in addresses]
    if missing:
        raise InvalidArgument(
            f"runner map has no address for runner(s) {missing} of service {svc.name!r}; "
            f"it names {sorted(addresses)}"
        )
    unknown = sorted(set(addresses) - {r.name for r in svc.runners})
    if unknown:
        logger.warning("runner map names runners the service does not have: %s", unknown)
    if any(url.startswith(("tcp://", "tcps://")) for urls in addresses.values() for url in urls):
        os.environ[TOKEN_ENV] = _token(token)
    tls_files = _tls_files(
        ca_certs=runner_ssl_ca_certs, certfile=runner_ssl_certfile, keyfile=runner_ssl_keyfile
    )
    if tls_files:
        from ..protocol.tls import from_settings

        from_settings(tls_files, server=False)  # refuse missing or broken files before starting
    config = config or load_config()
    workers = api_workers or config.api_server.workers or available_cpus()
    grace = config.api_server.graceful_shutdown_timeout
    run_deployment_hooks(svc)
    quiet_circus()
    with private_socket_dir() as socket_dir:
        public = tcp_socket("api", host, port)
        watcher = api_watcher(
            bento,
            working_dir,
            "api",
            addresses,
            workers=workers,
            development=False,
            grace_seconds=grace,
            scheduling_policy=config.api_server.scheduling_policy,
            tls=tls_files,
        )
        print(
            f"Serving {svc.name} on http://{host}:{public.port} (runners: {addresses})", flush=True
        )
        make_arbiter([watcher], [public], socket_dir, public=("api",)).start()

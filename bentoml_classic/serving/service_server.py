"""``start_service_server``: one service of a composed graph, alone, on TCP (multi-host).

    start_service_server("service:pipeline", "preprocess", port=3002)                  # host A
    start_http_server("service:pipeline", {"preprocess": "tcp://hostA:3002", ...})      # host B

The service's workers serve its APIs over the runner protocol, with the token rules of a runner
server (a peer presents the shared token before anything is read; ``runner_token.py``). What
the service itself calls, runners and the services it depends on, is found in the runner map
(``runner_map=``, else ``BENTOML_RUNNER_MAP``): a runner it names is called there, a runner it
does not name runs inside the service's workers; every service it depends on must be named.
With a certificate it serves TLS (``tcps://``), as a runner server does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..config import BentoMLConfig, load_config
from ..exceptions import InvalidArgument
from ..log_format import SUPERVISOR, configure_server_logging
from .arbiter import make_arbiter, quiet_circus
from .class_services import class_service_options, service_envs, with_class_defaults
from .hooks import run_deployment_hooks
from .metrics_dir import metrics_directory
from .runner_map import RUNNER_MAP_ENV, parse_runner_map
from .runner_token import runner_server_token
from .sockets import private_socket_dir, tcp_socket
from .start import tls_paths
from .watchers import service_watcher
from .worker_spec import TOKEN_ENV


def start_service_server(
    bento_identifier: str,
    service_name: str,
    *,
    working_dir: str = ".",
    host: str | None = None,
    port: int | None = None,
    runner_map: Mapping[str, str | list[str]] | str | None = None,
    token: str | None = None,
    config: BentoMLConfig | None = None,
    backlog: int = 2048,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
) -> None:
    """Serve the service ``service_name`` of ``bento_identifier``'s graph on
    ``tcp://host:port`` until stopped; ``port`` None: a free one, printed at start.

    ``ssl_certfile``: over TLS (callers name it ``tcps://``), as a runner server; with
    ``ssl_ca_certs``, callers must present a certificate that CA signed. The service's workers
    call ``tcps://`` addresses of the runner map with the same files (``protocol/tls.py``)."""
    from ..loader import import_service
    from ..protocol.tls import from_settings

    configure_server_logging(SUPERVISOR)
    working_dir = os.path.abspath(working_dir)
    entry = import_service(bento_identifier, working_dir)
    services = entry.all_services()
    svc = services.get(service_name)
    if svc is None:
        raise InvalidArgument(
            f"the graph of {entry.name!r} has no service {service_name!r}; it has {list(services)}"
        )
    given = runner_map if runner_map is not None else os.environ.get(RUNNER_MAP_ENV)
    addresses = parse_runner_map(given) if given is not None else {}
    missing = [d.name for d in svc.dependencies() if d.name not in addresses]
    if missing:
        raise InvalidArgument(
            f"service {svc.name!r} depends on {missing}: name their addresses in the runner "
            f"map ({RUNNER_MAP_ENV} or runner_map=)"
        )
    config = config or load_config()
    tls_files = tls_paths(certfile=ssl_certfile, keyfile=ssl_keyfile, ca_certs=ssl_ca_certs)
    if tls_files:
        from_settings(tls_files, server=True)  # refuse missing or broken files before starting
    # a class service's @bentoml.service(workers=, traffic=, resources=): served alone, every
    # service's keys are services.<name>.* (no entry here)
    options = class_service_options(services)
    config = with_class_defaults(config, config, "", options)
    env = service_envs({name: o for name, o in options.items() if name == svc.name}).get(svc.name)
    secret, token_source = runner_server_token(token)
    os.environ[TOKEN_ENV] = secret  # demanded of callers and shown to what it calls
    run_deployment_hooks(svc)
    quiet_circus()
    with private_socket_dir() as socket_dir:
        public = tcp_socket("service", host or "127.0.0.1", 0 if port is None else port, backlog)
        workers = config.service(svc.name).workers or 1
        watcher = service_watcher(
            bento_identifier,
            working_dir,
            svc.name,
            config,
            [public],
            runner_map={name: urls for name, urls in addresses.items() if name not in services},
            service_map={name: urls for name, urls in addresses.items() if name in services},
            state_dir=socket_dir,
            metrics_dir=metrics_directory(socket_dir),
            numprocesses=workers,  # all workers share the one TCP socket
            tls=tls_files,
            env=env,
        )
        shown_host = f"[{public.host}]" if ":" in public.host else public.host
        print(
            f"Service {svc.name} listening on {'tcps' if tls_files else 'tcp'}://{shown_host}:"
            f"{public.port} "
            f"(token from {token_source})",
            flush=True,
        )
        make_arbiter([watcher], [public], socket_dir).start()

"""``bentoml serve``: the production topology, under a Circus arbiter in the foreground."""

from __future__ import annotations

import os
from typing import Any

from ..config import BentoMLConfig, load_config
from ..log_format import SUPERVISOR, configure_server_logging
from .arbiter import make_arbiter, quiet_circus
from .arguments import http_tier
from .backends import backend_watchers
from .class_services import service_envs, with_class_defaults
from .deployment_plan import plan_deployment
from .library_preload import libraries_to_preload
from .metrics_dir import metrics_directory
from .resources import available_cpus
from .sockets import private_socket_dir, tcp_socket
from .watchers import api_watcher


def serve_production(
    target: str,
    *,
    working_dir: str = ".",
    host: str | None = None,
    port: int | None = None,
    api_workers: int | None = None,
    development: bool = False,
    config: BentoMLConfig | None = None,
    backlog: int | None = None,
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
) -> None:
    """Run the arbiter in the foreground until SIGINT/SIGTERM.

    ``config`` defaults to the configuration of this process (``BENTOML_CONFIG``, ...); the
    other arguments, when given, win over their keys (``serving/arguments.py``); a bad TLS
    setting stops here, before anything starts.
    """
    configure_server_logging(SUPERVISOR)
    working_dir = os.path.abspath(working_dir)
    given = config or load_config()
    config, https = http_tier(
        given,
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
    host = host or config.api_server.http.host
    port = config.api_server.http.port if port is None else port
    # the service is imported, its runners' GPUs placed and its on_deployment hooks run, in a
    # child process
    plan = plan_deployment(target, working_dir, config)
    plan.apply_environment()
    # @bentoml.service(workers=, traffic=) under the keys the configuration leaves unset
    config = with_class_defaults(config, given, plan.service_name, plan.class_services)
    envs = service_envs(plan.class_services)
    workers = api_workers or config.api_server.workers or available_cpus()
    libraries = libraries_to_preload(plan.libraries, plan.env_set)
    quiet_circus()
    with private_socket_dir() as socket_dir:
        metrics_dir = metrics_directory(socket_dir)
        backends = backend_watchers(
            target,
            working_dir,
            plan,
            config,
            socket_dir,
            metrics_dir,
            foreign_sockets=("api",),
            service_envs=envs,
            # runners forked beside the API workers would inherit the entry's own resources
            share_api_preforker=(
                (
                    config.api_server.preload
                    or (config.api_server.preload_libraries and libraries is not None)
                )
                and not envs.get(plan.service_name)
            ),
        )
        watchers = backends.watchers
        public = tcp_socket("api", host, port, config.api_server.backlog)
        watchers.append(
            api_watcher(
                target,
                working_dir,
                "api",
                backends.runner_map,
                config,
                service_map=backends.service_map,
                shared_runners=tuple(backends.shared_runners),
                env=envs.get(plan.service_name),
                libraries=libraries,
                workers=workers,
                development=development,
                http_tls=https,
                metrics_dir=metrics_dir,
            )
        )
        arbiter = make_arbiter(watchers, [public, *backends.sockets], socket_dir, public=("api",))
        url = public_url(host, public.port, https is not None)
        print(
            f"Serving {plan.service_name} on {url} with "
            f"{workers} API worker(s)"
            + "".join(f", {n} worker(s) of {name}" for name, n in backends.service_workers.items())
            + f" and {backends.runner_workers} runner worker(s) "
            "(Press CTRL+C to quit)",
            flush=True,
        )
        arbiter.start()


def serve_http_production(
    bento_identifier: str,
    working_dir: str = ".",
    port: int | None = None,
    host: str | None = None,
    **options: Any,
) -> None:
    """``serve_production`` under classic BentoML's name and argument order
    (``bentoml.serve.serve_http_production(bento_identifier, working_dir, port, host, ...)``);
    ``options`` are ``serve_production``'s keywords (``api_workers``, ``config``, ...)."""
    serve_production(bento_identifier, working_dir=working_dir, port=port, host=host, **options)


def public_url(host: str, port: int, https: bool) -> str:
    """The address a client would use, for the start-up line (an IPv6 host in brackets)."""
    shown_host = f"[{host}]" if ":" in host else host
    return f"{'https' if https else 'http'}://{shown_host}:{port}"

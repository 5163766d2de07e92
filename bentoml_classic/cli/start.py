"""``bentoml start-runner-server``, ``start-http-server`` and ``start-service-server``: one tier
(or one service of a composed graph) per host."""

from __future__ import annotations

import os
from typing import Any

import click

from .options import (
    access_log_option,
    config_option,
    existing_file_option,
    http_tuning_options,
    https_options,
    use_config_file,
    with_access_log,
    working_dir_option,
)
from .targets import serving_target

_token = click.option(
    "--token",
    default=None,
    help="Shared secret between runner server and HTTP server [default: $BENTOML_RUNNER_TOKEN; "
    "on one host, one generated in $BENTOML_HOME/runner_token].",
)


@click.command(name="start-runner-server")
@click.argument("bento", required=False)
@click.option("--runner-name", required=True, help="Which runner of the service to serve.")
@working_dir_option
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--backlog",
    default=2048,
    show_default=True,
    type=click.IntRange(min=1),
    help="Pending connections the port holds.",
)
@click.option(
    "--timeout",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds one model call may run before its worker replaces itself "
    "[default: runners.timeout, 300].",
)
@_token
@existing_file_option(
    "--ssl-certfile", "Serve over TLS with this certificate (PEM); callers say tcps://."
)
@existing_file_option("--ssl-keyfile", "The certificate's private key, if not in --ssl-certfile.")
@existing_file_option(
    "--ssl-ca-certs", "Demand from callers a client certificate signed by this CA."
)
def start_runner_server_command(
    bento: str | None, working_dir: str, config: str | None, **options: Any
) -> None:
    """Serve one runner of BENTO (a bento tag or folder, or MODULE:SVC; default:
    bentofile.yaml's service) on tcp://HOST:PORT (tcps:// with --ssl-certfile)."""
    target = serving_target(bento, working_dir)
    use_config_file(config)
    from ..config import load_config
    from ..serving.start import start_runner_server

    os.chdir(target.working_dir)
    start_runner_server(target.service, ".", config=load_config(), **options)


@click.command(name="start-http-server")
@click.argument("bento", required=False)
@click.option(
    "--runner-map",
    default=None,
    help='JSON: {"runner": "tcp://host:port"} (tcps:// for TLS) [default: $BENTOML_RUNNER_MAP].',
)
@working_dir_option
@config_option
@click.option("--host", default=None, help="[default: api_server.http.host, 127.0.0.1]")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="[default: api_server.http.port, 3000]",
)
@click.option(
    "--api-workers",
    default=None,
    type=click.IntRange(1, 1024),
    help="API worker processes [default: api_server.workers, else the CPU count].",
)
@access_log_option
@http_tuning_options
@https_options
@_token
@existing_file_option(
    "--runner-ssl-ca-certs", "Check tcps:// runners' certificates against this CA."
)
@existing_file_option(
    "--runner-ssl-certfile", "Present this client certificate to tcps:// runners."
)
@existing_file_option("--runner-ssl-keyfile", "The client certificate's key, if not in its file.")
def start_http_server_command(
    bento: str | None,
    working_dir: str,
    config: str | None,
    access_log: bool | None,
    **options: Any,
) -> None:
    """Serve the APIs of BENTO (a bento tag or folder, or MODULE:SVC; default: bentofile.yaml's
    service), calling runners at the addresses in the runner map. HTTPS with --ssl-certfile."""
    target = serving_target(bento, working_dir)
    use_config_file(config)
    from ..config import load_config
    from ..serving.start import start_http_server

    os.chdir(target.working_dir)
    settings = with_access_log(load_config(), access_log)
    start_http_server(target.service, working_dir=".", config=settings, **options)


@click.command(name="start-service-server")
@click.argument("bento", required=False)
@click.option(
    "--service-name", required=True, help="Which service of BENTO's graph to serve alone."
)
@click.option(
    "--runner-map",
    default=None,
    help='JSON: {"runner or service": "tcp://host:port"}, what this service calls '
    "[default: $BENTOML_RUNNER_MAP].",
)
@working_dir_option
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3002, show_default=True, type=click.IntRange(0, 65535))
@_token
@existing_file_option(
    "--ssl-certfile", "Serve over TLS with this certificate (PEM); callers say tcps://."
)
@existing_file_option("--ssl-keyfile", "The certificate's private key, if not in --ssl-certfile.")
@existing_file_option(
    "--ssl-ca-certs", "Demand from callers a client certificate signed by this CA."
)
def start_service_server_command(
    bento: str | None, working_dir: str, config: str | None, service_name: str, **options: Any
) -> None:
    """Serve one service of BENTO's graph (MODULE:SVC, the entry; default: bentofile.yaml's
    service) alone on tcp://HOST:PORT (tcps:// with --ssl-certfile), for callers on other hosts
    (bentoml.depends)."""
    target = serving_target(bento, working_dir)
    use_config_file(config)
    from ..config import load_config
    from ..serving.service_server import start_service_server

    os.chdir(target.working_dir)
    start_service_server(
        target.service, service_name, working_dir=".", config=load_config(), **options
    )

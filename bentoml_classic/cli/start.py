"""``bentoml start-runner-server`` and ``bentoml start-http-server``: one tier per host."""

from __future__ import annotations

import os
from collections.abc import Callable

import click

_working_dir = click.option(
    "--working-dir",
    default=".",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Where the service module lives.",
)
_token = click.option(
    "--token",
    default=None,
    help="Shared secret between runner server and HTTP server [default: $BENTOML_RUNNER_TOKEN].",
)


def _pem(flag: str, help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A TLS file option; resolved now, since the command then changes to the working dir."""
    existing = click.Path(exists=True, dir_okay=False, resolve_path=True)
    return click.option(flag, default=None, type=existing, help=help_text)


@click.command(name="start-runner-server")
@click.argument("bento")
@click.option("--runner-name", required=True, help="Which runner of the service to serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535))
@_working_dir
@_token
@_pem("--ssl-certfile", "Serve over TLS with this certificate (PEM); callers say tcps://.")
@_pem("--ssl-keyfile", "The certificate's private key, if not in --ssl-certfile.")
@_pem("--ssl-ca-certs", "Demand from callers a client certificate signed by this CA.")
def start_runner_server_command(
    bento: str,
    runner_name: str,
    host: str,
    port: int,
    working_dir: str,
    token: str | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    ssl_ca_certs: str | None,
) -> None:
    """Serve one runner of BENTO (MODULE:SVC) on tcp://HOST:PORT (tcps:// with --ssl-certfile)."""
    from ..config import load_config
    from ..serving.start import start_runner_server

    os.chdir(working_dir)
    start_runner_server(
        bento,
        ".",
        runner_name,
        host,
        port,
        token=token,
        config=load_config(),
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_ca_certs=ssl_ca_certs,
    )


@click.command(name="start-http-server")
@click.argument("bento")
@click.option(
    "--runner-map",
    default=None,
    help='JSON: {"runner": "tcp://host:port"} (tcps:// for TLS) [default: $BENTOML_RUNNER_MAP].',
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-workers", default=None, type=click.IntRange(1, 1024))
@_working_dir
@_token
@_pem("--runner-ssl-ca-certs", "Check tcps:// runners' certificates against this CA.")
@_pem("--runner-ssl-certfile", "Present this client certificate to tcps:// runners.")
@_pem("--runner-ssl-keyfile", "The client certificate's key, if not in its file.")
def start_http_server_command(
    bento: str,
    runner_map: str | None,
    host: str,
    port: int,
    api_workers: int | None,
    working_dir: str,
    token: str | None,
    runner_ssl_ca_certs: str | None,
    runner_ssl_certfile: str | None,
    runner_ssl_keyfile: str | None,
) -> None:
    """Serve the APIs of BENTO (MODULE:SVC), calling runners at the addresses in the map."""
    from ..config import load_config
    from ..serving.start import start_http_server

    os.chdir(working_dir)
    start_http_server(
        bento,
        runner_map,
        ".",
        host,
        port,
        api_workers,
        token=token,
        config=load_config(),
        runner_ssl_ca_certs=runner_ssl_ca_certs,
        runner_ssl_certfile=runner_ssl_certfile,
        runner_ssl_keyfile=runner_ssl_keyfile,
    )

"""``bentoml start-runner-server`` and ``bentoml start-http-server``: one tier per host."""

from __future__ import annotations

import os

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


@click.command(name="start-runner-server")
@click.argument("bento")
@click.option("--runner-name", required=True, help="Which runner of the service to serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535))
@_working_dir
@_token
def start_runner_server_command(
    bento: str, runner_name: str, host: str, port: int, working_dir: str, token: str | None
) -> None:
    """Serve one runner of BENTO (MODULE:SVC) on tcp://HOST:PORT."""
    from ..config import load_config
    from ..serving.start import start_runner_server

    os.chdir(working_dir)
    start_runner_server(bento, ".", runner_name, host, port, token=token, config=load_config())


@click.command(name="start-http-server")
@click.argument("bento")
@click.option(
    "--runner-map",
    default=None,
    help='JSON: {"runner": "tcp://host:port"} [default: $BENTOML_RUNNER_MAP].',
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-workers", default=None, type=click.IntRange(1, 1024))
@_working_dir
@_token
def start_http_server_command(
    bento: str,
    runner_map: str | None,
    host: str,
    port: int,
    api_workers: int | None,
    working_dir: str,
    token: str | None,
) -> None:
    """Serve the APIs of BENTO (MODULE:SVC), calling runners at the addresses in the map."""
    from ..config import load_config
    from ..serving.start import start_http_server

    os.chdir(working_dir)
    start_http_server(
        bento, runner_map, ".", host, port, api_workers, token=token, config=load_config()
    )

"""``bentoml serve-grpc`` and ``bentoml start-grpc-server``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .options import config_option, existing_file_option, use_config_file, working_dir_option
from .targets import resolve_target

F = TypeVar("F", bound=Callable[..., Any])


def _grpc_options(func: F) -> F:
    """The options both commands share, each defaulting to its ``api_server.grpc.*`` key."""
    for option in reversed(
        [
            click.option("--host", default=None, help="[default: api_server.grpc.host, 127.0.0.1]"),
            click.option(
                "--port",
                default=None,
                type=click.IntRange(0, 65535),
                help="[default: api_server.grpc.port, 3000]",
            ),
            click.option(
                "--api-workers",
                default=None,
                type=click.IntRange(1, 1024),
                help="API worker processes [default: api_server.workers, else the CPU count].",
            ),
            click.option(
                "--enable-reflection",
                "reflection",
                is_flag=True,
                default=None,
                help="Serve gRPC reflection (grpcurl, grpcui) [default: "
                "api_server.grpc.reflection.enabled].",
            ),
            click.option(
                "--enable-channelz",
                "channelz",
                is_flag=True,
                default=None,
                help="Serve channelz [default: api_server.grpc.channelz.enabled].",
            ),
            click.option(
                "--max-concurrent-streams",
                default=None,
                type=click.IntRange(1),
                help="HTTP/2 streams per connection [default: "
                "api_server.grpc.max_concurrent_streams].",
            ),
            existing_file_option("--ssl-certfile", "TLS on the gRPC port: the certificate."),
            existing_file_option("--ssl-keyfile", "The certificate's private key."),
            existing_file_option(
                "--ssl-ca-certs", "Clients must present a certificate this CA signed."
            ),
        ]
    ):
        func = option(func)
    return func


@click.command(name="serve-grpc")
@click.argument("target", required=False)
@working_dir_option
@config_option
@_grpc_options
@click.option("--development", is_flag=True, help="One process (API and runners together).")
@click.option(
    "--reload", is_flag=True, help="Restart on code changes in the working directory (one process)."
)
def serve_grpc(
    target: str | None,
    working_dir: str,
    config: str | None,
    development: bool,
    reload: bool,
    **options: Any,
) -> None:
    """Serve TARGET (MODULE:SVC) over gRPC, as classic BentoML's bentoml.grpc.v1.BentoService.

    The production topology of `bentoml serve`, with gRPC API workers sharing the port;
    Prometheus metrics on api_server.grpc.metrics.port (3001).
    """
    target, working_dir = resolve_target(target, working_dir)
    use_config_file(config)
    os.chdir(working_dir)
    from ..config import load_config

    if development or reload:
        from ..serving.grpc_tier import grpc_settings, grpc_tls_files, serve_grpc_development

        settings = grpc_settings(
            load_config(),
            host=options["host"],
            port=options["port"],
            reflection=options["reflection"],
            channelz=options["channelz"],
            max_concurrent_streams=options["max_concurrent_streams"],
        )
        tls = grpc_tls_files(
            options["ssl_certfile"], options["ssl_keyfile"], options["ssl_ca_certs"]
        )
        if reload:
            _serve_reloading(target, working_dir)
            return
        serve_grpc_development(target, working_dir=working_dir, config=settings, tls=tls)
        return
    from ..serving.grpc_tier import serve_grpc_production

    serve_grpc_production(target, working_dir=working_dir, config=load_config(), **options)


def _serve_reloading(target: str, working_dir: str) -> None:
    """--reload: the development server in a child process, restarted when a .py file of the
    working directory changes (watchfiles, which uvicorn[standard] brings)."""
    import sys

    import watchfiles

    args = [a for a in sys.argv[1:] if a != "--reload"]
    if "--development" not in args:
        args.append("--development")
    watchfiles.run_process(
        working_dir,
        target=f"{sys.executable} -m bentoml_classic {' '.join(args)}",
        target_type="command",
        watch_filter=watchfiles.PythonFilter(),
    )


@click.command(name="start-grpc-server")
@click.argument("bento", required=False)
@click.option(
    "--runner-map",
    default=None,
    help='JSON: {"runner": "tcp://host:port"} [default: $BENTOML_RUNNER_MAP].',
)
@working_dir_option
@config_option
@_grpc_options
@click.option(
    "--token", default=None, help="The runners' shared token [default: as start-http-server]."
)
def start_grpc_server_command(
    bento: str | None, working_dir: str, config: str | None, **options: Any
) -> None:
    """Serve the APIs of BENTO (MODULE:SVC) over gRPC, calling runners at the addresses in the
    runner map (classic's `bentoml start-grpc-server`)."""
    target, working_dir = resolve_target(bento, working_dir)
    use_config_file(config)
    from ..config import load_config
    from ..serving.start import start_grpc_server

    os.chdir(working_dir)
    start_grpc_server(target, working_dir=".", config=load_config(), **options)

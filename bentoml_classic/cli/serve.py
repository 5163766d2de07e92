"""``bentoml serve``."""

from __future__ import annotations

import os
from typing import Any

import click

from .options import (
    access_log_option,
    config_option,
    http_tuning_options,
    https_options,
    use_config_file,
    with_access_log,
    working_dir_option,
)
from .targets import resolve_target


@click.command()
@click.argument("target", required=False)
@working_dir_option
@config_option
@click.option(
    "--host",
    default=None,
    help="Interface to bind [default: api_server.http.host, 127.0.0.1]; 0.0.0.0 exposes the "
    "service to other machines.",
)
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
@click.option(
    "--development",
    is_flag=True,
    help="One process (API and runners together), tracebacks in error responses.",
)
@click.option(
    "--reload", is_flag=True, help="Restart on code changes in the working directory (one process)."
)
@access_log_option
@http_tuning_options
@https_options
def serve(
    target: str | None,
    working_dir: str,
    config: str | None,
    host: str | None,
    port: int | None,
    api_workers: int | None,
    development: bool,
    reload: bool,
    access_log: bool | None,
    **options: Any,
) -> None:
    """Serve TARGET (MODULE:SVC, e.g. service:svc, or a bento: its tag or folder) over HTTP, or
    HTTPS with --ssl-certfile.

    By default this runs the production topology: a supervisor, API worker processes sharing the
    port, and separate processes for the runners. Without TARGET (or with `.`), the `service:`
    entry of bentofile.yaml in the working directory is served, or the bento whose folder it is.
    A bento is served from its own src/ with its own models, whatever the working directory.

    Every option left out takes its configuration key, named in [default: ...].
    """
    target, working_dir = resolve_target(target, working_dir)
    use_config_file(config)
    # Relative paths in service code (data files, configs) resolve as if started from there.
    os.chdir(working_dir)
    from ..config import load_config  # not at import: `bentoml models ...` needs no pydantic

    settings = with_access_log(load_config(), access_log)

    if development or reload:
        from ..serving.development import serve_in_process

        serve_in_process(
            target,
            working_dir=working_dir,
            host=host,
            port=port,
            development=True,
            reload=reload,
            config=settings,
            **options,
        )
        return
    from ..serving.production import serve_production

    serve_production(
        target,
        working_dir=working_dir,
        host=host,
        port=port,
        api_workers=api_workers,
        config=settings,
        **options,
    )

"""``bentoml serve``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..exceptions import InvalidArgument


def _target_from_bentofile(working_dir: str) -> str:
    bentofile = Path(working_dir, "bentofile.yaml")
    if bentofile.is_file():
        import yaml

        service = (yaml.safe_load(bentofile.read_text()) or {}).get("service")
        if isinstance(service, str) and service:
            return service
    raise InvalidArgument(
        f"no service given and no 'service:' in {bentofile}: run `bentoml serve MODULE:SVC`, "
        "e.g. `bentoml serve service:svc`"
    )


@click.command()
@click.argument("target", required=False)
@click.option(
    "--host",
    default=None,
    help="Interface to bind [default: 127.0.0.1]; 0.0.0.0 exposes the service to other machines.",
)
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="[default: 3000]")
@click.option(
    "--api-workers",
    default=None,
    type=click.IntRange(1, 1024),
    help="API worker processes [default: the CPU count].",
)
@click.option(
    "--development",
    is_flag=True,
    help="One process (API and runners together), tracebacks in error responses.",
)
@click.option(
    "--reload", is_flag=True, help="Restart on code changes in the working directory (one process)."
)
@click.option(
    "--working-dir",
    default=".",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Where the service module lives.",
)
def serve(
    target: str | None,
    host: str | None,
    port: int | None,
    api_workers: int | None,
    development: bool,
    reload: bool,
    working_dir: str,
) -> None:
    """Serve TARGET (MODULE:SVC, e.g. service:svc) over HTTP.

    By default this runs the production topology: a supervisor, API worker processes sharing the
    port, and separate processes for the runners. Without TARGET, the `service:` entry of
    bentofile.yaml in the working directory is used.
    """
    working_dir = os.path.abspath(working_dir)
    target = target or _target_from_bentofile(working_dir)
    # Relative paths in service code (data files, configs) resolve as if started from there.
    os.chdir(working_dir)
    from ..config import load_config  # not at import: `bentoml models ...` needs no pydantic

    if development or reload:
        from ..serving.development import serve_in_process

        serve_in_process(
            target,
            working_dir=working_dir,
            host=host or "127.0.0.1",
            port=3000 if port is None else port,
            development=True,
            reload=reload,
            config=load_config(),
        )
        return
    from ..serving.production import serve_production

    serve_production(
        target,
        working_dir=working_dir,
        host=host,
        port=port,
        api_workers=api_workers,
        config=load_config(),
    )

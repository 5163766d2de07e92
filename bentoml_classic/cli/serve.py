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
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; 0.0.0.0 exposes the service to other machines.",
)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--development", is_flag=True, help="One process: API and runners together.")
@click.option("--reload", is_flag=True, help="Restart when code in the working directory changes.")
@click.option(
    "--working-dir",
    default=".",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Where the service module lives.",
)
def serve(
    target: str | None, host: str, port: int, development: bool, reload: bool, working_dir: str
) -> None:
    """Serve TARGET (MODULE:SVC, e.g. service:svc) over HTTP on HOST:PORT.

    Without TARGET, the `service:` entry of bentofile.yaml in the working directory is used.
    """
    from ..serving import serve_in_process

    working_dir = os.path.abspath(working_dir)
    target = target or _target_from_bentofile(working_dir)
    # Relative paths in service code (data files, configs) resolve as if started from there.
    os.chdir(working_dir)
    serve_in_process(
        target,
        working_dir=working_dir,
        host=host,
        port=port,
        development=development,
        reload=reload,
    )

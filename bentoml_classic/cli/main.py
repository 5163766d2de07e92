"""Entry point: a click group with one module per command family."""

from __future__ import annotations

import platform
import sys

import click

from .. import __version__
from ..exceptions import BentoMLException
from .bentos import (
    build,
    delete_bento,
    export_bento_command,
    get_bento,
    import_bento_command,
    list_bentos,
)
from .deploy import containerize, generate
from .grpc import serve_grpc, start_grpc_server_command
from .models import models
from .serve import serve
from .start import (
    start_http_server_command,
    start_runner_server_command,
    start_service_server_command,
)


class _Group(click.Group):
    """Shows framework errors as one line (``Error: ...``), not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BentoMLException as exc:
            raise click.ClickException(exc.message) from exc


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    __version__,
    "-v",
    "--version",
    prog_name="bentoml",
    # classic's first words, which scripts parse; then which implementation answers
    message=f"%(prog)s, version %(version)s (bentoml_classic, Python {platform.python_version()})",
)
def cli() -> None:
    """bentoml_classic: serve models with the classic BentoML programming model."""


cli.add_command(serve)
cli.add_command(models)
cli.add_command(start_runner_server_command)
cli.add_command(start_service_server_command)
cli.add_command(start_http_server_command)
cli.add_command(serve_grpc)
cli.add_command(start_grpc_server_command)

for _command in (
    build,
    list_bentos,
    get_bento,
    delete_bento,
    export_bento_command,
    import_bento_command,
    containerize,
    generate,
):
    cli.add_command(_command)


def main() -> None:
    sys.exit(cli.main(prog_name="bentoml", standalone_mode=True))

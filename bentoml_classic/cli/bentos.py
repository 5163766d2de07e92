"""``bentoml build``, ``list``, ``get``, ``delete``, ``export``, ``import``: bentos and their
store ($BENTOML_HOME/bentos)."""

from __future__ import annotations

import json
import sys

import click

from .output import directory_size, human_size, local_time, output_option, print_records

#: the columns of ``bentoml list``: a record's key -> its title (classic's)
LIST_COLUMNS = {"tag": "Tag", "size": "Size", "creation_time": "Creation Time"}


@click.command(name="build")
@click.argument("build_ctx", default=".", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-f",
    "--bentofile",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="The build file [default: BUILD_CTX/bentofile.yaml].",
)
@click.option("--version", default=None, help="The bento's version [default: a new one].")
def build(build_ctx: str, bentofile: str | None, version: str | None) -> None:
    """Build a bento from BUILD_CTX (default: the working directory) into the bento store."""
    from ..bentos.build import build_bento

    bento = build_bento(build_ctx, bentofile, version, show_progress=sys.stderr.isatty())
    click.echo(f'Successfully built Bento(tag="{bento.tag}") at {bento.path}')


@click.command(name="list")
@click.argument("name", required=False)
@output_option
def list_bentos(name: str | None, output: str) -> None:
    """List built bentos, newest first; only those named NAME if given."""
    from .. import bentos

    found = sorted(bentos.list(name), key=lambda b: b.info.creation_time, reverse=True)
    if not found and output == "table":
        click.echo("no bentos built" + (f" under {name!r}" if name else ""))
        return
    records = [
        {
            "tag": str(b.tag),
            "size": human_size(directory_size(b.path)),
            "creation_time": local_time(b.info.creation_time),
        }
        for b in found
    ]
    print_records(records, output, LIST_COLUMNS)


@click.command(name="get")
@click.argument("tag")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json", "path"]),
    default="yaml",
    show_default=True,
    help="The bento's bento.yaml as YAML or JSON, or the path of its folder.",
)
def get_bento(tag: str, output: str) -> None:
    """Show a bento's bento.yaml."""
    from .. import bentos

    bento = bentos.get(tag)
    if output == "path":
        click.echo(bento.path)
    elif output == "json":
        click.echo(json.dumps(bento.info.model_dump(mode="json"), indent=2))
    else:
        click.echo(bento.info.to_yaml().rstrip())


@click.command(name="delete")
@click.argument("tag")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_bento(tag: str, yes: bool) -> None:
    """Delete a bento from the store (the models stay in the model store)."""
    from .. import bentos

    bento = bentos.get(tag)
    if not yes:
        click.confirm(f"Delete bento {bento.tag}?", abort=True)
    bentos.delete(bento.tag)
    click.echo(f"deleted {bento.tag}")


@click.command(name="export")
@click.argument("tag")
@click.argument("path", required=False)
def export_bento_command(tag: str, path: str | None) -> None:
    """Write bento TAG, its models included, to PATH (a .bento file, tar with xz; or a directory
    to put NAME-VERSION.bento in; default the working directory)."""
    from ..bentos.archive import export_bento

    click.echo(f"exported bento {tag} to {export_bento(tag, path)}")


@click.command(name="import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-f", "--force", is_flag=True, help="Replace a bento of the same tag.")
def import_bento_command(path: str, force: bool) -> None:
    """Put the bento in the .bento archive PATH into the bento store, and its models into the
    model store."""
    from ..bentos.archive import import_bento

    bento = import_bento(path, force=force)
    click.echo(f"imported bento {bento.tag} to {bento.path}")

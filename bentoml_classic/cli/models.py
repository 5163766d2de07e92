"""``bentoml models list|get|delete|export|import``."""

from __future__ import annotations

import json

import click
import yaml

from .output import directory_size, human_size, local_time, output_option, print_records


@click.group()
def models() -> None:
    """Inspect and manage the local model store ($BENTOML_HOME/models)."""


#: the columns of ``models list``: a record's key -> its title (classic's)
LIST_COLUMNS = {"tag": "Tag", "module": "Module", "size": "Size", "creation_time": "Creation Time"}


@models.command(name="list")
@click.argument("name", required=False)
@output_option
def list_models(name: str | None, output: str) -> None:
    """List saved models, newest first; only those named NAME if given.

    Each with the module that saved it, its size on disk and when it was saved (local time).
    """
    from .. import models as store

    found = sorted(store.list(name), key=lambda m: m.info.creation_time, reverse=True)
    if not found and output == "table":
        click.echo("no models saved" + (f" under {name!r}" if name else ""))
        return
    records = [
        {
            "tag": str(m.tag),
            "module": m.info.module,
            "size": human_size(directory_size(m.path)),
            "creation_time": local_time(m.info.creation_time),
        }
        for m in found
    ]
    print_records(records, output, LIST_COLUMNS)


@models.command(name="get")
@click.argument("tag")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json", "path"]),
    default="yaml",
    show_default=True,
    help="The model's model.yaml as YAML or JSON, or the path of its directory.",
)
def get_model(tag: str, output: str) -> None:
    """Show a model's model.yaml."""
    from .. import models as store

    model = store.get(tag)
    if output == "path":
        click.echo(model.path)
    elif output == "json":
        click.echo(json.dumps(model.info.to_dict(), indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(model.info.to_dict(), sort_keys=False).rstrip())


@models.command(name="delete")
@click.argument("tag")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_model(tag: str, yes: bool) -> None:
    """Delete a model from the store."""
    from .. import models as store

    model = store.get(tag)
    if not yes:
        click.confirm(f"Delete model {model.tag}?", abort=True)
    store.delete(model.tag)
    click.echo(f"deleted {model.tag}")


@models.command(name="export")
@click.argument("tag")
@click.argument("path", required=False)
def export_model_command(tag: str, path: str | None) -> None:
    """Write model TAG to PATH (a .bentomodel file, tar with xz; or a directory to put
    NAME-VERSION.bentomodel in; default the working directory)."""
    from ..models import export_model

    click.echo(f"exported model {tag} to {export_model(tag, path)}")


@models.command(name="import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-f", "--force", is_flag=True, help="Replace a model of the same tag.")
def import_model_command(path: str, force: bool) -> None:
    """Put the model in the .bentomodel archive PATH into the store."""
    from ..models import import_model

    model = import_model(path, force=force)
    click.echo(f"imported model {model.tag} to {model.path}")

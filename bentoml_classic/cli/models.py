"""``bentoml models list|get|delete``."""

from __future__ import annotations

import click
import yaml


@click.group()
def models() -> None:
    """Inspect and manage the local model store ($BENTOML_HOME/models)."""


@models.command(name="list")
@click.argument("name", required=False)
def list_models(name: str | None) -> None:
    """List saved models, newest first; only those named NAME if given."""
    from .. import models as store

    found = store.list(name)
    if not found:
        click.echo("no models saved" + (f" under {name!r}" if name else ""))
        return
    rows = [
        (
            str(m.tag),
            m.info.module.rsplit(".", 1)[-1],
            m.info.creation_time.isoformat(timespec="seconds"),
        )
        for m in found
    ]
    widths = [max(len(row[i]) for row in [("Tag", "Module", "Created"), *rows]) for i in range(3)]
    for row in [("Tag", "Module", "Created"), *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@models.command(name="get")
@click.argument("tag")
def get_model(tag: str) -> None:
    """Show a model's model.yaml."""
    from .. import models as store

    model = store.get(tag)
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

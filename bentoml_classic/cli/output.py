"""How commands print lists of things: an aligned table for people, JSON or YAML for scripts
(``-o table|json|yaml``, classic's option).

The table is drawn by rich, imported here and only when a table is printed: it costs some
30 ms to import, which no other command (and no worker process) should pay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

FORMATS = ("table", "json", "yaml")

output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="An aligned table, or JSON or YAML for scripts.",
)


def print_records(records: Sequence[dict[str, Any]], output: str, headers: dict[str, str]) -> None:
    """``records`` (each with the keys of ``headers``) as ``output`` says; ``headers`` maps a
    key to its column's title in the table."""
    if output == "json":
        click.echo(json.dumps(list(records), indent=2))
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(list(records), sort_keys=False).rstrip())
    else:
        print_table(list(headers.values()), [[str(r[key]) for key in headers] for r in records])


def print_table(titles: list[str], rows: list[list[str]]) -> None:
    """An aligned table without borders, as classic's. Cells are shown as they are (never read
    as rich's markup), and never wrapped when the output is not a terminal (a file, a pipe): a
    script reading it gets one line per row whatever the width."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    table = Table(box=None, pad_edge=False)
    for title in titles:
        # a narrow terminal folds a long cell onto more lines rather than cut it short
        table.add_column(title, overflow="fold", no_wrap=not console.is_terminal)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    if console.is_terminal:
        console.print(table)
        return
    widest = [max(len(cell) for cell in column) for column in zip(titles, *rows, strict=True)]
    plain = Console(highlight=False, width=sum(widest) + 2 * len(titles), no_color=True)
    with plain.capture() as captured:
        plain.print(table)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def human_size(size: float) -> str:
    """Bytes as classic printed them: ``5.33 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{size:.2f} {unit}"


def directory_size(path: str) -> int:
    """Bytes of the files under ``path`` (links not followed: a bento's hard-linked models count
    in each bento, a symlink not at all), for the ``size`` column of a listing."""
    total = 0
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            total += directory_size(entry.path)
        elif entry.is_file(follow_symlinks=False):
            total += entry.stat(follow_symlinks=False).st_size
    return total


def local_time(moment: datetime) -> str:
    """A creation time as a listing shows it: this machine's local time, to the second."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")

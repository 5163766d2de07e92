"""Which files of a build directory go into a bento's ``src/``, and copying them.

``include`` / ``exclude`` are gitwildmatch patterns (``.gitignore``'s syntax, read by pathspec)
relative to the build directory; a ``.bentoignore`` in any directory excludes what its patterns
match relative to that directory. ``.git`` is never included, and a symbolic link is copied only
when it points inside the build directory (a bento must not carry ``/etc`` by accident).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pathspec

logger = logging.getLogger(__name__)

BENTOIGNORE = ".bentoignore"
_ALWAYS_EXCLUDED = (".git/",)


_Spec = pathspec.PathSpec[Any]


def _spec(patterns: Sequence[str]) -> _Spec:
    return pathspec.PathSpec.from_lines("gitignore", patterns)


def select_files(
    build_ctx: str | os.PathLike[str], include: Sequence[str], exclude: Sequence[str]
) -> list[str]:
    """The files to copy, as paths relative to ``build_ctx`` with ``/``, sorted."""
    root = Path(build_ctx).resolve()
    included = _spec(include)
    excluded = _spec([*exclude, *_ALWAYS_EXCLUDED])
    ignores: list[tuple[str, _Spec]] = []  # (directory relative to root, its spec)
    selected = []
    for directory, dirnames, filenames in os.walk(root):
        relative_dir = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        ignore_file = Path(directory, BENTOIGNORE)
        if ignore_file.is_file():
            lines = ignore_file.read_text(encoding="utf-8").splitlines()
            ignores.append((prefix, _spec(lines)))
        # prune excluded directories now: a node_modules or .git is never walked
        dirnames[:] = sorted(
            d for d in dirnames if not _excluded(prefix + d + "/", excluded, ignores)
        )
        for filename in filenames:
            relative = prefix + filename
            if not included.match_file(relative) or _excluded(relative, excluded, ignores):
                continue
            if not _inside(Path(directory, filename), root):
                logger.warning("not copying %s: a link that points outside %s", relative, root)
                continue
            selected.append(relative)
    return sorted(selected)


def _excluded(relative: str, excluded: _Spec, ignores: list[tuple[str, _Spec]]) -> bool:
    if excluded.match_file(relative):
        return True
    return any(
        relative.startswith(prefix) and spec.match_file(relative[len(prefix) :])
        for prefix, spec in ignores
    )


def _inside(path: Path, root: Path) -> bool:
    return not path.is_symlink() or path.resolve().is_relative_to(root)


def copy_files(
    build_ctx: str | os.PathLike[str], files: Sequence[str], destination: str, show_progress: bool
) -> None:
    """Copy ``files`` (from ``select_files``) under ``destination``, with a progress bar on
    standard error while it runs when ``show_progress``."""
    if not show_progress:
        for relative in files:
            _copy_one(build_ctx, relative, destination)
        return
    from rich.progress import Progress  # imported only by a build that shows one

    with Progress(transient=True) as progress:
        task = progress.add_task("Copying files", total=len(files))
        for relative in files:
            _copy_one(build_ctx, relative, destination)
            progress.advance(task)


def _copy_one(build_ctx: str | os.PathLike[str], relative: str, destination: str) -> None:
    target = os.path.join(destination, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(os.path.join(build_ctx, relative), target)  # a link inside: its content

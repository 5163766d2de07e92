"""Archives of the stores: ``.bentomodel`` (one model) here, and the tools ``.bento`` archives
share (``bentos/archive.py``): tar with xz, written atomically, read with every member checked.

An archive comes from somewhere else, so it is hostile until proven otherwise: a member that
would land outside the directory it is extracted into (an absolute path, ``../``), a symbolic or
hard link that points out of it, and anything but a file, a directory or such an inner link (a
device file, a FIFO) refuse the whole archive, naming the member, before a byte is written. A
corrupt or truncated archive is refused the same way. Extraction goes into a temporary directory
of the store, which is renamed into place only once complete.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from ..exceptions import BadArchive, BentoMLException, InvalidArgument
from ..tag import Tag
from .model import MODEL_YAML, Model
from .store import ModelStore, get_default_store

MODEL_SUFFIX = ".bentomodel"


def write_archive(source_dir: str, destination: str) -> str:
    """``source_dir``'s contents as a tar.xz at ``destination``, which appears only complete
    (written beside it, then renamed); its absolute path."""
    destination = os.path.abspath(destination)
    directory = os.path.dirname(destination)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(destination)}.")
    os.close(fd)
    try:
        # preset 1: several times faster than xz's default on model weights, which compress
        # little at any preset
        with tarfile.open(tmp, "w:xz", preset=1) as archive:
            for entry in sorted(os.listdir(source_dir)):
                archive.add(os.path.join(source_dir, entry), arcname=entry)
        os.chmod(tmp, 0o644)
        os.replace(tmp, destination)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return destination


def _check_member(member: tarfile.TarInfo, source: str) -> None:
    name = member.name
    normal = posixpath.normpath(name)
    if name.startswith("/") or os.path.isabs(name):
        raise BadArchive(f"{source}: member {name!r} has an absolute path; refused")
    if normal == ".." or normal.startswith("../"):
        raise BadArchive(f"{source}: member {name!r} escapes the archive's folder; refused")
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(normal), member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            raise BadArchive(
                f"{source}: member {name!r} is a link to {member.linkname!r}, outside the "
                "archive's folder; refused"
            )
    elif member.islnk():
        target = posixpath.normpath(member.linkname)
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            raise BadArchive(
                f"{source}: member {name!r} is a hard link to {member.linkname!r}, outside the "
                "archive's folder; refused"
            )
    elif not (member.isfile() or member.isdir()):
        kind = "a device file" if (member.ischr() or member.isblk()) else "not a regular file"
        raise BadArchive(f"{source}: member {name!r} is {kind}; refused")


def extract_archive(path: str, destination: str) -> None:
    """Extract the archive at ``path`` into the empty directory ``destination``, every member
    checked first (module docstring)."""
    if not os.path.isfile(path):
        raise InvalidArgument(f"no archive at {path}")
    try:
        with tarfile.open(path, "r:*") as archive:
            members = archive.getmembers()  # reads to the end: a truncated archive fails here
            for member in members:
                _check_member(member, path)
            # the standard library's own checks too, on what is now known to be harmless
            archive.extractall(destination, members=members, filter="data")
    except BadArchive:
        raise
    except (tarfile.TarError, lzma.LZMAError, EOFError, OSError, ValueError) as exc:
        raise BadArchive(
            f"{path} is not a readable archive (corrupt or truncated?): {type(exc).__name__}: {exc}"
        ) from exc


@contextmanager
def staged(store: ModelStore, prefix: str) -> Iterator[str]:
    """A temporary directory of ``store`` that is removed unless it was committed."""
    tmp = store._tmp_dir(prefix)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_model(
    tag: Tag | str, path: str | None = None, *, store: ModelStore | None = None
) -> str:
    """Write the model ``tag`` names to ``path`` (a file, or a directory to put
    ``<name>-<version>.bentomodel`` in; default the working directory); the file's path."""
    model = (store or get_default_store()).get(tag)
    file_name = f"{model.tag.name}-{model.tag.version}{MODEL_SUFFIX}"
    if path is None:
        path = file_name
    elif os.path.isdir(path):
        path = os.path.join(path, file_name)
    return write_archive(model.path, path)


def import_model(path: str, *, force: bool = False, store: ModelStore | None = None) -> Model:
    """Put the model in the archive at ``path`` into the store; an existing tag is refused by
    name unless ``force``, which replaces it."""
    store = store or get_default_store()
    with staged(store, "import-") as tmp:
        extract_archive(path, tmp)
        return commit_model_dir(store, tmp, force=force, source=path)


def commit_model_dir(store: ModelStore, directory: str, *, force: bool, source: str) -> Model:
    """Commit ``directory`` (a model's files, in a temporary directory of ``store``) under the
    tag its model.yaml gives."""
    if not os.path.isfile(os.path.join(directory, MODEL_YAML)):
        raise BadArchive(f"{source} holds no {MODEL_YAML}: not a model archive")
    try:
        staged_model = Model.from_path(directory)
    except BentoMLException as exc:
        raise BadArchive(f"{source}: its {MODEL_YAML} cannot be read: {exc.message}") from exc
    tag = staged_model.tag
    assert tag.version is not None
    if os.path.isdir(os.path.join(store.root, tag.name, tag.version)) and not force:
        raise InvalidArgument(
            f"model {tag} already exists in {store.root}: pass --force to replace it"
        )
    final = store.commit_directory(directory, tag, replace=force)
    return Model.from_path(final)

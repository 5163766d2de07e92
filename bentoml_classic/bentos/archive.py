"""``.bento`` archives: ``bentoml export`` / ``bentoml import``.

An archive is the bento folder as tar with xz, its ``models/`` included, so it is complete on
another machine. Importing checks every member first (``models/archive.py``), then stages the
bento and each of its models that the model store lacks in temporary directories of the two
stores, and commits them only once all are staged: a corrupt, truncated or hostile archive, or
an existing tag without ``force``, leaves both stores as they were.
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack

from ..exceptions import BadArchive, BentoMLException, InvalidArgument
from ..models.archive import commit_model_dir, extract_archive, staged, write_archive
from ..models.store import ModelStore, get_default_store
from ..tag import Tag
from .bento import BENTO_YAML, MODELS_DIR, Bento, read_bento_yaml
from .store import BentoStore, get_default_bento_store

BENTO_SUFFIX = ".bento"


def export_bento(
    tag: Tag | str, path: str | None = None, *, store: BentoStore | None = None
) -> str:
    """Write the bento ``tag`` names to ``path`` (a file, or a directory to put
    ``<name>-<version>.bento`` in; default the working directory); the file's path."""
    bento = (store or get_default_bento_store()).get(tag)
    file_name = f"{bento.tag.name}-{bento.tag.version}{BENTO_SUFFIX}"
    if path is None:
        path = file_name
    elif os.path.isdir(path):
        path = os.path.join(path, file_name)
    return write_archive(bento.path, path)


def import_bento(
    path: str,
    *,
    force: bool = False,
    store: BentoStore | None = None,
    model_store: ModelStore | None = None,
) -> Bento:
    """Put the bento in the archive at ``path`` into the bento store, and its models that the
    model store lacks into the model store. An existing bento tag is refused by name unless
    ``force``, which replaces it."""
    store = store or get_default_bento_store()
    model_store = model_store or get_default_store()
    tmp = store._tmp_dir("import-")
    try:
        extract_archive(path, tmp)
        if not os.path.isfile(os.path.join(tmp, BENTO_YAML)):
            raise BadArchive(f"{path} holds no {BENTO_YAML}: not a bento archive")
        try:
            info = read_bento_yaml(os.path.join(tmp, BENTO_YAML))
        except BentoMLException as exc:
            raise BadArchive(f"{path}: {exc.message}") from exc
        tag = info.tag
        assert tag.version is not None
        if os.path.isdir(os.path.join(store.root, tag.name, tag.version)) and not force:
            raise InvalidArgument(
                f"bento {tag} already exists in {store.root}: pass --force to replace it"
            )
        with ExitStack() as stack:
            staged_models = []
            for model_dir, model_tag in _models_in(tmp, path):
                assert model_tag.version is not None
                if os.path.isdir(os.path.join(model_store.root, model_tag.name, model_tag.version)):
                    continue  # a model's files never change once saved: the one there will do
                model_tmp = stack.enter_context(staged(model_store, "import-"))
                shutil.copytree(model_dir, model_tmp, dirs_exist_ok=True, symlinks=True)
                staged_models.append(model_tmp)
            for model_tmp in staged_models:
                commit_model_dir(model_store, model_tmp, force=False, source=path)
        final = store.commit_directory(tmp, tag, replace=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bento.from_path(final)


def _models_in(bento_dir: str, source: str) -> list[tuple[str, Tag]]:
    """The model folders under a bento's ``models/``, each with its tag."""
    models_dir = os.path.join(bento_dir, MODELS_DIR)
    found: list[tuple[str, Tag]] = []
    if not os.path.isdir(models_dir):
        return found
    for name in sorted(os.listdir(models_dir)):
        name_dir = os.path.join(models_dir, name)
        if not os.path.isdir(name_dir) or name.startswith("."):
            continue
        for version in sorted(os.listdir(name_dir)):
            if os.path.isdir(os.path.join(name_dir, version)):
                try:
                    found.append((os.path.join(name_dir, version), Tag(name, version)))
                except InvalidArgument as exc:
                    raise BadArchive(f"{source}: models/{name}/{version}: {exc.message}") from exc
    return found

"""The model store's public face: ``bentoml.models.list/get/delete/export_model/import_model``
over ``$BENTOML_HOME/models``.

The default store is looked up on every call (``BENTOML_HOME`` may change, tests set it per test),
and nothing here imports a framework: ``Model.to_runner`` imports the one a model was saved by.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..tag import Tag
from .archive import export_model, import_model
from .model import Model, ModelInfo, ModelSignature
from .store import ModelStore, bentoml_home, get_default_store

__all__ = [
    "Model",
    "ModelInfo",
    "ModelSignature",
    "ModelStore",
    "bentoml_home",
    "create",
    "delete",
    "export_model",
    "get",
    "get_default_store",
    "import_model",
    "list",
]


def list(tag_or_name: Tag | str | None = None) -> builtins.list[Model]:
    """All models, or the versions of one name (newest first), or the one model a tag names."""
    store = get_default_store()
    if tag_or_name is None:
        return store.list()
    tag = Tag.from_taglike(tag_or_name)
    if tag.version is None:
        return store.list(tag.name)
    return [store.get(tag)]


def get(tag: Tag | str) -> Model:
    return get_default_store().get(tag)


def delete(tag: Tag | str) -> Model:
    """Delete a model from the default store and return what was deleted."""
    return get_default_store().delete(tag)


@contextmanager
def create(name: str, *, module: str, **kwargs: Any) -> Iterator[Model]:
    """``ModelStore.create`` on the default store, for framework adapters."""
    with get_default_store().create(name, module=module, **kwargs) as model:
        yield model

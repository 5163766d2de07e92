"""Bentos: ``bentofile.yaml``, ``bentoml build``, the bento store (``$BENTOML_HOME/bentos``),
``.bento`` archives, and what a bento tag resolves to when served.

Public as ``bentoml_classic.bentos`` (classic's ``bentoml.bentos``): ``build``, ``list``,
``get``, ``delete``. Nothing here is imported by a worker unless it serves a bento.
"""

from __future__ import annotations

import builtins
import os

from ..tag import Tag
from .bento import Bento, BentoInfo
from .build import build_bento
from .store import BentoStore, get_default_bento_store

__all__ = [
    "Bento",
    "BentoInfo",
    "BentoStore",
    "build",
    "delete",
    "get",
    "get_default_bento_store",
    "list",
]


def build(
    build_ctx: str | os.PathLike[str] = ".",
    bentofile: str | os.PathLike[str] | None = None,
    version: str | None = None,
) -> Bento:
    """Build a bento from ``build_ctx`` (default: its bentofile.yaml) into the default store."""
    return build_bento(build_ctx, bentofile, version)


def list(tag_or_name: Tag | str | None = None) -> builtins.list[Bento]:
    """All bentos, or the versions of one name (newest first), or the one a tag names."""
    store = get_default_bento_store()
    if tag_or_name is None:
        return store.list()
    tag = Tag.from_taglike(tag_or_name)
    if tag.version is None:
        return store.list(tag.name)
    return [store.get(tag)]


def get(tag: Tag | str) -> Bento:
    return get_default_bento_store().get(tag)


def delete(tag: Tag | str) -> Bento:
    return get_default_bento_store().delete(tag)

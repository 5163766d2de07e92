"""The bento store: ``$BENTOML_HOME/bentos/<name>/<version>/``, with the model store's atomic
commits, ``latest`` and version prefixes (``models/versioned.py``)."""

from __future__ import annotations

import os

from ..exceptions import BentoMLException, BentoNotFound
from ..models.store import bentoml_home
from ..models.versioned import VersionedStore
from ..tag import Tag
from .bento import BENTO_YAML, Bento


class BentoStore(VersionedStore[Bento]):
    kind = "bento"
    not_found = BentoNotFound

    def _load(self, name: str, version: str) -> Bento:
        path = os.path.join(self.root, name, version)
        bento = Bento.from_path(path)
        if bento.tag != Tag(name, version):
            raise BentoMLException(
                f"bento metadata {os.path.join(path, BENTO_YAML)} describes {bento.tag}, "
                f"but it is stored as {name}:{version}"
            )
        return bento

    def _tag_of(self, item: Bento) -> Tag:
        return item.tag

    def _path_of(self, item: Bento) -> str:
        return item.path

    def new_directory(self, tag: Tag) -> str:
        """A private temporary directory to write a bento into before ``commit_directory``."""
        return self._tmp_dir(f"{tag.name}-{tag.version}-")


def get_default_bento_store() -> BentoStore:
    return BentoStore(os.path.join(bentoml_home(), "bentos"))

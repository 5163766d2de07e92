"""The model store: ``<root>/<name>/<version>/`` directories and a ``<root>/<name>/latest`` file.

Saves are atomic (``versioned.py``, shared with the bento store): a model is written into a
temporary directory and renamed into place once complete, so readers never see a partial model.
"""

from __future__ import annotations

import logging
import os
import pickle
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ..exceptions import BentoMLException, InvalidArgument, ModelNotFound
from ..tag import Tag, validate_name
from .model import (
    CUSTOM_OBJECTS_FILE,
    MODEL_YAML,
    Model,
    ModelInfo,
    ModelSignature,
    check_labels,
    convert_signatures,
    make_context,
    to_plain_data,
)
from .versioned import VersionedStore

logger = logging.getLogger(__name__)

# Crockford's base 32, lower case: ascending in ASCII, so fixed-width strings sort like numbers.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 11  # 55 bits of microseconds since the epoch: good for about a thousand years
_RANDOM_CHARS = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_clock_lock = threading.Lock()
_last_micros = 0


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_version(now: datetime | None = None) -> str:
    """A 16-character version: 11 characters of time and 5 random ones, so that versions sort by
    creation time and other processes do not collide. Without ``now``, versions made by this
    process strictly increase even within one microsecond or if the clock steps back."""
    global _last_micros
    if now is not None:
        micros = int(now.timestamp() * 1_000_000)
    else:
        micros = time.time_ns() // 1000
        with _clock_lock:
            micros = max(micros, _last_micros + 1)
            _last_micros = micros
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return _encode(micros, _TIME_CHARS) + suffix


def version_time(version: str) -> datetime:
    """The creation time encoded in a generated version (for display and tests)."""
    micros = 0
    for char in version[:_TIME_CHARS]:
        micros = micros * 32 + _ALPHABET.index(char)
    return _EPOCH + timedelta(microseconds=micros)


def _pickle_custom_objects(custom_objects: Mapping[str, Any]) -> bytes:
    if not isinstance(custom_objects, Mapping):
        raise InvalidArgument(f"custom_objects must be a dict, got {type(custom_objects).__name__}")
    for key, value in custom_objects.items():
        if not isinstance(key, str):
            raise InvalidArgument(f"custom_objects keys must be strings, got {key!r}")
        try:
            pickle.dumps(value, protocol=5)
        except Exception as exc:
            raise InvalidArgument(
                f"custom_objects[{key!r}] cannot be pickled: {type(exc).__name__}: {exc}"
            ) from exc
    return pickle.dumps(dict(custom_objects), protocol=5)


class ModelStore(VersionedStore[Model]):
    """Models under ``root``; ``root`` need not exist until the first save."""

    kind = "model"
    not_found = ModelNotFound

    @contextmanager
    def create(
        self,
        name: str,
        *,
        module: str,
        labels: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        signatures: Mapping[str, ModelSignature | Mapping[str, Any]] | None = None,
        options: Mapping[str, Any] | None = None,
        custom_objects: Mapping[str, Any] | None = None,
        framework_versions: Mapping[str, str] | None = None,
    ) -> Iterator[Model]:
        """Yield a Model whose ``path`` is an empty temporary directory; commit it on exit.

        The framework writes its files into ``model.path`` inside the ``with`` block. On normal
        exit model.yaml is written, the directory is renamed into place, ``latest`` is updated
        and ``model.path`` becomes the final directory. On any exception, nothing remains.
        """
        name = validate_name(name, "model name")
        if not isinstance(module, str) or not module:
            raise InvalidArgument(f"module must be the framework module's name, got {module!r}")
        version = new_version()
        info = ModelInfo(
            name=name,
            version=version,
            module=module,
            labels=check_labels(labels),
            metadata=to_plain_data(dict(metadata or {}), "metadata"),
            signatures=convert_signatures(signatures),
            options=to_plain_data(dict(options or {}), "options"),
            creation_time=version_time(version),
            context=make_context(framework_versions),
        )
        # Fail before the framework does any expensive work if custom objects cannot be saved.
        pickled_objects = _pickle_custom_objects(custom_objects) if custom_objects else None
        tmp = self._tmp_dir(f"{name}-{info.version}-")
        model = Model(info.tag, tmp, info, dict(custom_objects or {}))
        try:
            yield model
            if pickled_objects is not None:
                with open(os.path.join(tmp, CUSTOM_OBJECTS_FILE), "wb") as f:
                    f.write(pickled_objects)
            with open(os.path.join(tmp, MODEL_YAML), "w", encoding="utf-8") as f:
                f.write(info.to_yaml())
            model.path = self.commit_directory(tmp, info.tag)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _load(self, name: str, version: str) -> Model:
        path = os.path.join(self.root, name, version)
        model = Model.from_path(path)
        if model.tag != Tag(name, version):
            raise BentoMLException(
                f"model metadata {os.path.join(path, MODEL_YAML)} describes {model.tag}, "
                f"but it is stored as {name}:{version}"
            )
        return model

    def _tag_of(self, item: Model) -> Tag:
        return item.tag

    def _path_of(self, item: Model) -> str:
        return item.path


def bentoml_home() -> str:
    """``$BENTOML_HOME`` (default ``~/bentoml``), read on every call so tests can change it."""
    return os.path.expanduser(os.environ.get("BENTOML_HOME") or os.path.join("~", "bentoml"))


#: a model store other than ``$BENTOML_HOME/models``: set by whatever serves a bento to the
#: bento's own ``models/`` folder, so that its processes load the versions it was built with
MODEL_STORE_ENV = "BENTOML_MODEL_STORE"


def get_default_store() -> ModelStore:
    return ModelStore(os.environ.get(MODEL_STORE_ENV) or os.path.join(bentoml_home(), "models"))

"""The model store: ``<root>/<name>/<version>/`` directories and a ``<root>/<name>/latest`` file.

Saves are atomic. A model is written into ``<root>/.tmp/<random>`` (same filesystem) and only
renamed to ``<root>/<name>/<version>`` once complete, so readers never see a partial model and a
crash leaves at worst an ignored temporary directory. ``latest`` is replaced with ``os.replace``.
Commits and deletes take an exclusive ``flock`` on ``<root>/.lock`` so that concurrent processes
agree on ``latest``; readers take no lock because every change they can observe is one rename.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import secrets
import shutil
import tempfile
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

logger = logging.getLogger(__name__)

LATEST = "latest"
# Crockford's base 32, lower case: ascending in ASCII, so fixed-width strings sort like numbers.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 11  # 55 bits of microseconds since the epoch: good for about a thousand years
_RANDOM_CHARS = 5
_SHOWN_VERSIONS = 5
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


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from other users of a copied store
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


class ModelStore:
    """Models under ``root``; ``root`` need not exist until the first save."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))

    def __repr__(self) -> str:
        return f"ModelStore({self.root!r})"

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.root, exist_ok=True)
        with open(os.path.join(self.root, ".lock"), "a+") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _tmp_dir(self, prefix: str) -> str:
        tmp_root = os.path.join(self.root, ".tmp")
        os.makedirs(tmp_root, exist_ok=True)
        return tempfile.mkdtemp(dir=tmp_root, prefix=prefix)

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
            model.path = self._commit(tmp, info)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _commit(self, tmp: str, info: ModelInfo) -> str:
        name_dir = os.path.join(self.root, info.name)
        final = os.path.join(name_dir, info.version)
        with self._locked():
            os.makedirs(name_dir, exist_ok=True)
            # mkdtemp made it private (0700); a model must stay readable once copied into an
            # image that runs as another user.
            os.chmod(tmp, 0o755)
            if os.path.exists(final):
                raise BentoMLException(f"model {info.tag} already exists in {self.root}")
            os.rename(tmp, final)
            _write_atomic(os.path.join(name_dir, LATEST), info.version + "\n")
        logger.info("saved model %s to %s", info.tag, final)
        return final

    def delete(self, tag: Tag | str) -> Model:
        """Remove a model; if it was ``latest``, point ``latest`` at the newest one left."""
        model = self.get(tag)
        name_dir = os.path.join(self.root, model.tag.name)
        with self._locked():
            if not os.path.isdir(model.path):
                raise ModelNotFound(f"model {model.tag} not found: it was deleted meanwhile")
            # Renamed out of sight first, so a reader never sees a half-removed directory.
            trash = self._tmp_dir(f"deleted-{model.tag.name}-{model.tag.version}-")
            os.rename(model.path, os.path.join(trash, "model"))
            shutil.rmtree(trash, ignore_errors=True)
            remaining = self._versions(model.tag.name)
            if not remaining:
                shutil.rmtree(name_dir, ignore_errors=True)
            elif self._read_latest(model.tag.name) not in remaining:
                _write_atomic(os.path.join(name_dir, LATEST), remaining[0] + "\n")
        logger.info("deleted model %s", model.tag)
        return model

    # -- reading -----------------------------------------------------------------------------

    def _names(self) -> list[str]:
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))

    def _versions(self, name: str) -> list[str]:
        """Versions of ``name``, newest first (generated versions sort by creation time)."""
        try:
            entries = os.scandir(os.path.join(self.root, name))
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:
            found = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
        return sorted(found, reverse=True)

    def _read_latest(self, name: str) -> str | None:
        try:
            with open(os.path.join(self.root, name, LATEST), encoding="utf-8") as f:
                return f.read().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _load(self, name: str, version: str) -> Model:
        path = os.path.join(self.root, name, version)
        model = Model.from_path(path)
        if model.tag != Tag(name, version):
            raise BentoMLException(
                f"model metadata {os.path.join(path, MODEL_YAML)} describes {model.tag}, "
                f"but it is stored as {name}:{version}"
            )
        return model

    def get(self, tag: Tag | str) -> Model:
        """Resolve ``name``, ``name:latest``, ``name:<version>`` or a unique version prefix."""
        tag = Tag.from_taglike(tag)
        versions = self._versions(tag.name)
        if not versions:
            names = self._names()
            known = f"; models in the store: {', '.join(names[:10])}" if names else ""
            raise ModelNotFound(
                f"model {tag} not found: no model named {tag.name!r} in {self.root}{known}",
                detail={"tag": str(tag)},
            )
        if tag.version is None or tag.version == LATEST:
            latest = self._read_latest(tag.name)
            # A missing or stale latest file (say, a directory removed by hand) is not fatal.
            version = latest if latest in versions else versions[0]
            return self._load(tag.name, version)
        if tag.version in versions:
            return self._load(tag.name, tag.version)
        candidates = [v for v in versions if v.startswith(tag.version)]
        if len(candidates) == 1:
            return self._load(tag.name, candidates[0])
        if candidates:
            raise InvalidArgument(
                f"version prefix {tag.version!r} of model {tag.name!r} is ambiguous: it matches "
                f"{', '.join(candidates)}; give more characters",
                detail={"tag": str(tag), "candidates": candidates},
            )
        shown = ", ".join(versions[:_SHOWN_VERSIONS])
        hidden = len(versions) - _SHOWN_VERSIONS
        more = f" and {hidden} more" if hidden > 0 else ""
        raise ModelNotFound(
            f"model {tag} not found: {tag.name!r} has versions {shown}{more} (newest first)",
            detail={"tag": str(tag), "versions": versions[:_SHOWN_VERSIONS]},
        )

    def list(self, name: str | None = None) -> list[Model]:
        """All models (or one name's), grouped by name, newest first within a name.

        A model whose model.yaml cannot be read is skipped with a warning, so that one broken
        directory does not hide every other model; ``get`` on it raises the full error.
        """
        names = [validate_name(name, "model name")] if name is not None else self._names()
        models: list[Model] = []
        for model_name in names:
            for version in self._versions(model_name):
                try:
                    models.append(self._load(model_name, version))
                except BentoMLException as exc:
                    logger.warning("skipping %s:%s: %s", model_name, version, exc.message)
        return models

    def __contains__(self, tag: Tag | str) -> bool:
        try:
            self.get(tag)
        except (ModelNotFound, InvalidArgument):
            return False
        return True


def bentoml_home() -> str:
    """``$BENTOML_HOME`` (default ``~/bentoml``), read on every call so tests can change it."""
    return os.path.expanduser(os.environ.get("BENTOML_HOME") or os.path.join("~", "bentoml"))


def get_default_store() -> ModelStore:
    return ModelStore(os.path.join(bentoml_home(), "models"))

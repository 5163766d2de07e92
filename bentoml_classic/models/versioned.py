"""What the model store and the bento store share: ``<root>/<name>/<version>/`` directories, a
``<root>/<name>/latest`` file, atomic commits and deletes, and tag resolution.

An item is written into ``<root>/.tmp/<random>`` (same filesystem) and only renamed to
``<root>/<name>/<version>`` once complete, so readers never see a partial one and a crash leaves
at worst an ignored temporary directory. ``latest`` is replaced with ``os.replace``. Commits and
deletes take an exclusive ``flock`` on ``<root>/.lock`` so that concurrent processes agree on
``latest``; readers take no lock because every change they can observe is one rename.
"""

from __future__ import annotations

import builtins
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from ..exceptions import BentoMLException, InvalidArgument, NotFound
from ..tag import Tag, validate_name

logger = logging.getLogger(__name__)

LATEST = "latest"
_SHOWN_VERSIONS = 5

T = TypeVar("T")


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (readers see the old or the new file)."""
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


class VersionedStore(Generic[T]):
    """Items under ``root``, each a directory ``<name>/<version>``; ``root`` need not exist until
    the first commit. A subclass says what an item is (``_load``, ``_tag_of``) and what it is
    called in messages (``kind``), and which exception a missing one raises."""

    kind = "item"
    not_found: type[NotFound] = NotFound

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    # -- what a subclass says ----------------------------------------------------------------

    def _load(self, name: str, version: str) -> T:
        raise NotImplementedError

    def _tag_of(self, item: T) -> Tag:
        raise NotImplementedError

    def _path_of(self, item: T) -> str:
        raise NotImplementedError

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
        """A private temporary directory on the store's filesystem, for ``commit_directory``."""
        tmp_root = os.path.join(self.root, ".tmp")
        os.makedirs(tmp_root, exist_ok=True)
        return tempfile.mkdtemp(dir=tmp_root, prefix=prefix)

    def commit_directory(self, tmp: str, tag: Tag, *, replace: bool = False) -> str:
        """Rename the complete directory ``tmp`` (made by ``_tmp_dir``) to ``<name>/<version>``
        and point ``latest`` at it; its path. An existing tag is refused by name unless
        ``replace``, which swaps the old directory out in one rename first."""
        assert tag.version is not None
        name_dir = os.path.join(self.root, tag.name)
        final = os.path.join(name_dir, tag.version)
        with self._locked():
            os.makedirs(name_dir, exist_ok=True)
            # mkdtemp made it private (0700); it must stay readable once copied into an image
            # that runs as another user.
            os.chmod(tmp, 0o755)
            if os.path.exists(final):
                if not replace:
                    raise BentoMLException(f"{self.kind} {tag} already exists in {self.root}")
                trash = self._tmp_dir(f"replaced-{tag.name}-{tag.version}-")
                os.rename(final, os.path.join(trash, self.kind))
                os.rename(tmp, final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(tmp, final)
            write_atomic(os.path.join(name_dir, LATEST), tag.version + "\n")
        logger.info("saved %s %s to %s", self.kind, tag, final)
        return final

    def delete(self, tag: Tag | str) -> T:
        """Remove an item; if it was ``latest``, point ``latest`` at the newest one left."""
        item = self.get(tag)
        found, path = self._tag_of(item), self._path_of(item)
        name_dir = os.path.join(self.root, found.name)
        with self._locked():
            if not os.path.isdir(path):
                raise self.not_found(f"{self.kind} {found} not found: it was deleted meanwhile")
            # Renamed out of sight first, so a reader never sees a half-removed directory.
            trash = self._tmp_dir(f"deleted-{found.name}-{found.version}-")
            os.rename(path, os.path.join(trash, self.kind))
            shutil.rmtree(trash, ignore_errors=True)
            remaining = self._versions(found.name)
            if not remaining:
                shutil.rmtree(name_dir, ignore_errors=True)
            elif self._read_latest(found.name) not in remaining:
                write_atomic(os.path.join(name_dir, LATEST), remaining[0] + "\n")
        logger.info("deleted %s %s", self.kind, found)
        return item

    # -- reading -----------------------------------------------------------------------------

    def _names(self) -> builtins.list[str]:
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))

    def _versions(self, name: str) -> builtins.list[str]:
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

    def get(self, tag: Tag | str) -> T:
        """Resolve ``name``, ``name:latest``, ``name:<version>`` or a unique version prefix."""
        tag = Tag.from_taglike(tag)
        kind = self.kind
        versions = self._versions(tag.name)
        if not versions:
            names = self._names()
            known = f"; {kind}s in the store: {', '.join(names[:10])}" if names else ""
            raise self.not_found(
                f"{kind} {tag} not found: no {kind} named {tag.name!r} in {self.root}{known}",
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
                f"version prefix {tag.version!r} of {kind} {tag.name!r} is ambiguous: it matches "
                f"{', '.join(candidates)}; give more characters",
                detail={"tag": str(tag), "candidates": candidates},
            )
        shown = ", ".join(versions[:_SHOWN_VERSIONS])
        hidden = len(versions) - _SHOWN_VERSIONS
        more = f" and {hidden} more" if hidden > 0 else ""
        raise self.not_found(
            f"{kind} {tag} not found: {tag.name!r} has versions {shown}{more} (newest first)",
            detail={"tag": str(tag), "versions": versions[:_SHOWN_VERSIONS]},
        )

    def list(self, name: str | None = None) -> builtins.list[T]:
        """All items (or one name's), grouped by name, newest first within a name.

        One whose metadata cannot be read is skipped with a warning, so that one broken
        directory does not hide every other; ``get`` on it raises the full error.
        """
        names = [validate_name(name, f"{self.kind} name")] if name is not None else self._names()
        items: builtins.list[T] = []
        for item_name in names:
            for version in self._versions(item_name):
                try:
                    items.append(self._load(item_name, version))
                except BentoMLException as exc:
                    logger.warning("skipping %s:%s: %s", item_name, version, exc.message)
        return items

    def __contains__(self, tag: Tag | str) -> bool:
        try:
            self.get(tag)
        except (NotFound, InvalidArgument):
            return False
        return True

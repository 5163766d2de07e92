"""Uploaded files handed to a ``pathlib.Path`` parameter: written to a temporary folder per
request, removed once nothing uses them.

The folder is owned by an ``UploadFolder``. The arguments dict of the request and every path in
it hold the folder, so it is removed when the last of them goes (a streaming function that keeps
its path keeps the folder until it finishes), or at once when the runtime calls ``close()`` on
the arguments after the request.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import tempfile
import weakref
from typing import Any

#: characters a stored file name keeps of the client's filename; the rest become ``_``
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 100


class UploadFolder:
    """A temporary folder, removed by ``remove()`` or when this object is collected."""

    def __init__(self) -> None:
        self.path = pathlib.Path(tempfile.mkdtemp(prefix="bentoml-upload-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def store(self, param: str, filename: str | None, data: bytes) -> UploadedPath:
        """Write one part under a name made of the client's base name (its suffix kept, its
        folders and odd characters not), in a folder per parameter so names cannot clash."""
        folder = self.path / param
        folder.mkdir(exist_ok=True)
        target = folder / safe_name(filename, param)
        target.write_bytes(data)
        stored = UploadedPath(target)
        stored._upload_folder = self
        return stored

    def remove(self) -> None:
        self._finalizer()


class UploadedPath(pathlib.PosixPath):
    """A ``Path`` that keeps its upload folder alive for as long as the path is used."""

    __slots__ = ("_upload_folder",)
    _upload_folder: UploadFolder


class TypedArguments(dict[str, Any]):
    """The decoded request: ``{parameter name: value}``, ready for ``func(self, **arguments)``.

    ``close()`` removes the request's uploaded files now; without it they are removed when the
    arguments and their paths are no longer referenced.
    """

    upload_folder: UploadFolder | None = None

    def close(self) -> None:
        if self.upload_folder is not None:
            self.upload_folder.remove()


def safe_name(filename: str | None, fallback: str) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[-_MAX_NAME:]
    return cleaned or fallback

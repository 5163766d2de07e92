"""File: the body (or an uploaded file of a form) as a file-like object, returned as bytes.

An empty body is an empty file, not an error: a zero-byte upload is a legitimate file, and an API
that needs content can say so itself. The content is buffered in memory (the server's
``max_request_size`` bounds it), so the function gets a seekable ``io.BytesIO`` with a ``name``,
as classic BentoML's file object had: the uploaded file's name, or ``"<request body>"``.
"""

from __future__ import annotations

import io
import mimetypes
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import InvalidArgument, UnsupportedMediaType
from ._upload import read_upload
from .base import IODescriptor, Part, naming_part, request_media_type
from .mediatype import MediaType, parse_media_type

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

_OCTET_STREAM = "application/octet-stream"
#: the name of a file that came without one (classic BentoML's, for a request body)
UNNAMED = "<request body>"
_BINARY_SCHEMA = {"type": "string", "format": "binary"}


class FileInput(io.BytesIO):
    """What the API function receives: the bytes, plus what the client said about them.

    ``name`` is the filename (from the multipart part or a ``Content-Disposition`` header,
    without any directory), or ``"<request body>"`` when the client sent none; ``content_type``
    is the declared media type without parameters, or None.
    """

    def __init__(self, data: bytes, filename: str | None, content_type: str | None) -> None:
        super().__init__(data)
        self.name = _base_name(filename) or UNNAMED
        self.content_type = content_type

    def __repr__(self) -> str:
        return f"<FileInput name={self.name!r} content_type={self.content_type!r}>"

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickled (to a runner worker) as its bytes, name, type and position. The bytes go out
        of band under protocol 5 (the runner protocol's): not copied into the pickle. They are
        what the request carried, so ``max_request_size`` bounds them."""
        data = self.getvalue()
        carried = pickle.PickleBuffer(data) if protocol >= 5 else data
        return _rebuild_file_input, (carried, self.name, self.content_type, self.tell())


def _rebuild_file_input(data: Any, name: str, content_type: str | None, position: int) -> FileInput:
    rebuilt = FileInput(data, name, content_type)
    rebuilt.seek(position)
    return rebuilt


class File(IODescriptor[Any]):
    mime_type: ClassVar[str] = _OCTET_STREAM
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400, 415})

    def __init__(self, kind: str = "binaryio", mime_type: str | None = None) -> None:
        if kind != "binaryio":
            raise InvalidArgument(f"File(kind={kind!r}): only kind='binaryio' is supported")
        declared: MediaType | None = None
        if mime_type is not None:
            declared = parse_media_type(mime_type)
            if declared is None or declared.type == "multipart":
                raise InvalidArgument(f"File(mime_type={mime_type!r}) is not a usable media type")
        self.kind = kind
        #: the declared type: requests must carry it (or octet-stream); responses are sent as it
        self.declared_type = declared.essence if declared else None
        self.mime_type = self.declared_type or _OCTET_STREAM  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"File(kind={self.kind!r}, mime_type={self.declared_type!r})"

    # -- input ---------------------------------------------------------------------------------

    async def from_http_request(self, request: Request) -> FileInput:
        media_type = request_media_type(request)
        if media_type is not None and media_type.essence == "multipart/form-data":
            part = await read_upload(request, self._rank)
            with naming_part(part.name):
                return self._to_file(part.data, part.media_type, part.filename)
        filename = _disposition_filename(request.headers.get("content-disposition"))
        return self._to_file(await request.body(), media_type, filename)

    async def from_part(self, part: Part) -> FileInput:
        with naming_part(part.name):
            return self._to_file(part.data, part.media_type, part.filename)

    def from_bytes(
        self, data: bytes, media_type: MediaType | None, filename: str | None = None
    ) -> FileInput:
        """A file's bytes of a stated type (a gRPC ``File`` with its ``kind``), checked as a
        request's Content-Type is."""
        return self._to_file(data, media_type, filename)

    def _to_file(
        self, data: bytes, media_type: MediaType | None, filename: str | None
    ) -> FileInput:
        self._check_type(media_type)
        return FileInput(data, filename, media_type.essence if media_type else None)

    def _rank(self, media_type: MediaType | None) -> int:
        """Which file of a form to read: the first of the declared type (any, without one),
        else an untyped one; as classic, which read the first file of the declared type."""
        if self.declared_type is None or (
            media_type is not None and media_type.matches(self.declared_type)
        ):
            return 0
        return 1 if media_type is None or media_type.essence == _OCTET_STREAM else 2

    def _check_type(self, media_type: MediaType | None) -> None:
        """With a declared type, accept it, octet-stream, or no type at all; refuse the rest."""
        if self.declared_type is None or media_type is None:
            return
        if media_type.essence == _OCTET_STREAM or media_type.matches(self.declared_type):
            return
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media_type.essence!r}: expected "
            f"{self.declared_type} or {_OCTET_STREAM}",
            detail={
                "content_type": media_type.essence,
                "expected": [self.declared_type, _OCTET_STREAM],
            },
        )

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        if isinstance(obj, os.PathLike):
            data = await run_in_threadpool(Path(obj).read_bytes)
        else:
            data = _to_bytes(obj)
        return Response(data, media_type=self.mime_type)

    # -- documentation -------------------------------------------------------------------------

    def to_spec(self) -> dict[str, Any]:
        return {
            "id": "bentoml.io.File",
            "args": {"kind": self.kind, "mime_type": self.declared_type},
        }

    def openapi_schema(self) -> dict[str, Any]:
        return dict(_BINARY_SCHEMA)

    def openapi_request_body(self) -> dict[str, Any]:
        content: dict[str, Any] = {}
        for media_type in dict.fromkeys([self.mime_type, _OCTET_STREAM]):
            content[media_type] = {"schema": self.openapi_schema()}
        content["multipart/form-data"] = {"schema": upload_form_schema()}
        return {"required": True, "content": content}

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> File:
        """A path gives its guessed media type (unless ``mime_type=`` is given); bytes give none."""
        if isinstance(sample, (str, os.PathLike)):
            path = Path(sample)
            if not path.is_file():
                raise InvalidArgument(f"File.from_sample: {str(path)!r} is not a file")
            kwargs.setdefault("mime_type", mimetypes.guess_type(path.name)[0])
        elif not isinstance(sample, (bytes, bytearray, memoryview)):
            raise InvalidArgument(
                f"File.from_sample takes bytes or a path, got {type(sample).__name__}"
            )
        return cls(**kwargs)


def upload_form_schema() -> dict[str, Any]:
    """A multipart/form-data body with one uploaded file, named ``file`` in the docs."""
    return {
        "type": "object",
        "properties": {"file": dict(_BINARY_SCHEMA)},
        "required": ["file"],
    }


def _to_bytes(obj: Any) -> bytes:
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    read = getattr(obj, "read", None)
    if callable(read):
        # Sent from its start (a BytesIO just written to sits at its end), then closed: the
        # function handed the file over, and an open file returned per request would leak fds.
        try:
            if getattr(obj, "seekable", lambda: False)():
                obj.seek(0)
            data = read()
        finally:
            close = getattr(obj, "close", None)
            if callable(close):
                close()
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        raise TypeError(
            f"File output read {type(data).__name__} from the file object: open it in binary mode"
        )
    raise TypeError(
        f"File output expects bytes, a binary file object or a pathlib.Path, "
        f"got {type(obj).__name__}"
    )


def _disposition_filename(header: str | None) -> str | None:
    """The filename of a ``Content-Disposition: attachment; filename="x"`` header, if any."""
    if not header:
        return None
    from python_multipart.multipart import parse_options_header

    _, params = parse_options_header(header)
    raw = params.get(b"filename")
    if not raw:
        return None
    try:  # headers arrive as latin-1; clients send UTF-8 names in them all the same
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _base_name(filename: str | None) -> str | None:
    """The last path component: a client's ``../../etc/passwd`` names a file, not a path."""
    if not filename:
        return None
    return filename.replace("\\", "/").rsplit("/", 1)[-1] or None

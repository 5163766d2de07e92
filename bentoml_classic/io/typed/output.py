"""The response side of a class service's API, chosen by the method's return annotation.

JSON for data (dict, list, scalars, pydantic models, dataclasses; and no annotation, as in
BentoML 1.2), nested lists for an ``np.ndarray``, records for a DataFrame, text for ``str``, the
encoded image for ``PIL.Image.Image``, the file for a ``Path``, ``application/octet-stream`` for
``bytes`` and file objects, and a stream for a generator of ``str`` or ``bytes`` (http/streaming.py
streams what a ``Text`` output's function yields).
"""

from __future__ import annotations

import collections.abc
import inspect
import io
import mimetypes
import os
import pathlib
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..base import IODescriptor
from ..file import File
from ..image import Image
from ..json import JSON
from ..text import Text
from ._arrays import (
    FrameEncoder,
    is_dataframe,
    is_ndarray,
    is_tensor,
    mentions_dataframe,
    with_pydantic_fields,
)
from ._hints import EMPTY, file_kind, is_union, strip_annotated
from ._model import component_name
from .errors import signature_error

if TYPE_CHECKING:
    from starlette.responses import Response

_STREAMS = {
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
}
_BINARY = {"type": "string", "format": "binary"}


def output_descriptor(method: str, annotation: Any, func: Callable[..., Any]) -> IODescriptor[Any]:
    """The descriptor that renders what ``func`` returns, by its return annotation."""
    generates = inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)
    # Optional[X] is not X: a None must be answerable, and JSON's null is how (a union of a
    # type JSON cannot carry is a SignatureError, from TypedJSON)
    bare = strip_annotated(annotation)
    origin = typing.get_origin(bare)
    if origin in _STREAMS or (generates and annotation is EMPTY):
        args = typing.get_args(bare)
        chunk = strip_annotated(args[0]) if args else str
        if chunk is str or chunk is typing.Any:
            return TextStream()
        if chunk is bytes:
            return ByteStream()
        raise signature_error(
            method,
            None,
            f"returns a stream of {chunk!r}; a streamed response takes str or bytes chunks",
        )
    if annotation is EMPTY or bare is typing.Any or bare is type(None):
        return TypedJSON(method, typing.Any)
    if is_union(bare):
        return TypedJSON(method, annotation)
    if bare is str:
        return Text()
    if bare in (bytes, bytearray):
        return File()
    if is_ndarray(bare):
        from ..numpy import NumpyNdarray

        return NumpyNdarray()
    if is_tensor(bare):
        return TensorArray()
    if is_dataframe(bare):
        from ..pandas import PandasDataFrame

        return PandasDataFrame(orient="records")
    kind = file_kind(bare)
    if kind == "image":
        return EncodedImage()
    if kind == "path":
        return PathFile()
    if kind == "file":
        return File()
    return TypedJSON(method, annotation)


class TensorArray(IODescriptor[Any]):
    """A returned ``torch.Tensor`` as nested lists, written as ``NumpyNdarray`` writes arrays
    (the tensor copied to the CPU first)."""

    mime_type: ClassVar[str] = "application/json"

    def __init__(self) -> None:
        from ..numpy import NumpyNdarray

        self._array = NumpyNdarray()

    def __repr__(self) -> str:
        return "TensorArray()"

    async def from_http_request(self, request: Any) -> Any:
        raise NotImplementedError("TensorArray renders responses; input_for() reads requests")

    async def to_http_response(self, obj: Any) -> Response:
        if hasattr(obj, "detach"):
            obj = obj.detach().cpu().numpy()
        return await self._array.to_http_response(obj)

    def openapi_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {}, "description": "a torch tensor, as nested lists"}

    def to_spec(self) -> dict[str, Any]:
        return self._array.to_spec()


class TypedJSON(JSON):
    """JSON rendered as ``JSON()`` renders it, documented with the annotation's schema."""

    def __init__(self, method: str, annotation: Any) -> None:
        # DataFrames inside the value need the stdlib's encoder (msgspec's path cannot call out
        # to pandas); every other value keeps the fast path
        super().__init__(json_encoder=FrameEncoder if mentions_dataframe(annotation) else None)
        from pydantic import TypeAdapter
        from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

        self.annotation = annotation
        self._name = component_name(method, "Output")
        try:
            adapter: Any = TypeAdapter(with_pydantic_fields(annotation))
            self._schema = adapter.json_schema(
                ref_template="#/components/schemas/{model}", mode="serialization"
            )
        except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
            raise signature_error(
                method,
                None,
                f"return annotation {annotation!r} cannot be rendered as JSON: "
                f"{str(exc).splitlines()[0]}",
            ) from None

    def __repr__(self) -> str:
        return f"TypedJSON({self.annotation!r})"

    def openapi_schema(self) -> dict[str, Any]:
        schema = {k: v for k, v in self._schema.items() if k != "$defs"}
        if self._is_model():
            return {"$ref": f"#/components/schemas/{self._model_name()}"}
        return schema

    def openapi_components(self) -> dict[str, Any]:
        components: dict[str, Any] = dict(self._schema.get("$defs", {}))
        if self._is_model():
            components[self._model_name()] = {k: v for k, v in self._schema.items() if k != "$defs"}
        return components

    def _is_model(self) -> bool:
        from pydantic import BaseModel

        bare = strip_annotated(self.annotation)
        return isinstance(bare, type) and issubclass(bare, BaseModel) and "$ref" not in self._schema

    def _model_name(self) -> str:
        return str(strip_annotated(self.annotation).__name__)


class TextStream(Text):
    """The chunks a generator method yields, streamed (http/streaming.py streams a ``Text``
    output's iterators). ``streamed`` tells /docs.json so, whatever function the runtime wraps
    the method in."""

    streamed: ClassVar[bool] = True

    def __repr__(self) -> str:
        return "TextStream()"


class ByteStream(TextStream):
    """A stream of ``bytes`` chunks."""

    mime_type: ClassVar[str] = "application/octet-stream"

    def __repr__(self) -> str:
        return "ByteStream()"

    def to_spec(self) -> dict[str, Any]:
        return {"id": "bentoml.io.File", "args": {"kind": "binaryio", "mime_type": None}}

    def openapi_schema(self) -> dict[str, Any]:
        return dict(_BINARY)

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        if not isinstance(obj, (bytes, bytearray, memoryview)):
            raise TypeError(f"a bytes stream's function returned {type(obj).__name__}")
        return Response(bytes(obj), media_type=self.mime_type)


class EncodedImage(Image):
    """A PIL image encoded in its own format where Pillow can write it (an image opened from a
    JPEG and returned as it is stays a JPEG), else as PNG, with the matching Content-Type."""

    def __init__(self) -> None:
        super().__init__(mime_type="image/png")

    def __repr__(self) -> str:
        return "EncodedImage()"

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        data, media_type = await run_in_threadpool(encode_image, obj)
        return Response(data, media_type=media_type)

    def openapi_responses(self) -> dict[str, Any]:
        return {"content": {"image/*": {"schema": dict(_BINARY)}}}


def encode_image(obj: Any) -> tuple[bytes, str]:
    import PIL.Image

    if not isinstance(obj, PIL.Image.Image):
        if type(obj).__module__.split(".")[0] != "numpy":
            raise TypeError(f"expected a PIL.Image.Image, got {type(obj).__name__}")
        obj = PIL.Image.fromarray(obj)
    fmt = obj.format or ""
    media_type = PIL.Image.MIME.get(fmt)
    if fmt not in PIL.Image.SAVE or media_type is None:
        fmt, media_type = "PNG", "image/png"
    if fmt == "JPEG" and obj.mode not in ("1", "L", "RGB", "CMYK"):
        obj = (obj.convert("RGBA") if obj.mode in ("P", "PA") else obj).convert("RGB")
    buffer = io.BytesIO()
    obj.save(buffer, format=fmt)
    return buffer.getvalue(), media_type


class PathFile(File):
    """The file a returned ``Path`` names, streamed from disk, typed by its suffix and named by
    its base name (never its folder)."""

    def __repr__(self) -> str:
        return "PathFile()"

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import FileResponse

        if not isinstance(obj, (str, os.PathLike)):
            return await super().to_http_response(obj)
        path = pathlib.Path(obj)
        if not await run_in_threadpool(path.is_file):
            # the message reaches the client: it says what is wrong, not where
            raise ValueError("the returned Path names no regular file")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, filename=path.name)

    def openapi_responses(self) -> dict[str, Any]:
        return {"content": {"*/*": {"schema": dict(_BINARY)}}}

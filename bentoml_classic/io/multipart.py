"""Multipart: several named values in one multipart/form-data body, each read by its own descriptor.

``Multipart(image=Image(), meta=JSON())`` hands the API function ``image=`` and ``meta=`` as
keyword arguments. Parts are matched by their ``Content-Disposition`` name, never by position:
form libraries do not promise an order. A part is parsed by the same code as a whole request body
of its descriptor (``from_part``), so the checks and the messages are the same, prefixed with the
part's name.

Splitting the body into parts (and why not with Starlette's ``request.form()``) is in
``_form.py``.
"""

from __future__ import annotations

import keyword
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import InvalidArgument, UnsupportedMediaType
from ._form import FORM_DATA, check_boundary, split_form
from .base import IODescriptor, request_media_type
from .mediatype import parse_media_type

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: bodies larger than this are split in a worker thread
_SPLIT_IN_THREAD = 1 << 20


class Multipart(IODescriptor[dict[str, Any]]):
    mime_type: ClassVar[str] = FORM_DATA

    def __init__(self, **descriptors: IODescriptor[Any]) -> None:
        if not descriptors:
            raise InvalidArgument("Multipart needs at least one part, e.g. Multipart(x=JSON())")
        for name, descriptor in descriptors.items():
            if not name.isidentifier() or keyword.iskeyword(name):
                raise InvalidArgument(
                    f"Multipart part name {name!r} must be a Python identifier: the API function "
                    "receives each part as a keyword argument of that name"
                )
            if isinstance(descriptor, Multipart):
                raise InvalidArgument(f"Multipart part {name!r}: a Multipart cannot be nested")
            if not isinstance(descriptor, IODescriptor):
                raise InvalidArgument(
                    f"Multipart part {name!r} must be an IO descriptor instance such as "
                    f"bentoml.io.JSON(), got {descriptor!r}"
                )
        self.descriptors: dict[str, IODescriptor[Any]] = dict(descriptors)
        # 415 for a body that is not multipart; each part adds what its descriptor can answer.
        self.input_error_statuses = frozenset({400, 415}).union(  # type: ignore[misc]
            *(d.input_error_statuses for d in descriptors.values())
        )

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={d!r}" for name, d in self.descriptors.items())
        return f"Multipart({parts})"

    # -- input ---------------------------------------------------------------------------------

    async def from_http_request(self, request: Request) -> dict[str, Any]:
        media_type = request_media_type(request)
        if media_type is None or media_type.essence != FORM_DATA:
            received = media_type.essence if media_type else None
            raise UnsupportedMediaType(
                f"unsupported Content-Type {received!r}: this API reads {FORM_DATA} with the "
                f"parts {list(self.descriptors)}",
                detail={"content_type": received, "expected": FORM_DATA},
            )
        boundary = check_boundary(media_type.params.get("boundary"))
        body = await request.body()
        if len(body) > _SPLIT_IN_THREAD:
            # pure-Python parsing takes milliseconds per MiB: off the event loop for big bodies
            from starlette.concurrency import run_in_threadpool

            parts = await run_in_threadpool(split_form, body, boundary, list(self.descriptors))
        else:
            parts = split_form(body, boundary, list(self.descriptors))
        # Sequential, in declared order: the order of errors is stable whatever the body's order.
        return {
            name: await descriptor.from_part(parts[name])
            for name, descriptor in self.descriptors.items()
        }

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        """Each part rendered by its descriptor (its bytes and Content-Type), in declared order."""
        from starlette.responses import Response

        if not isinstance(obj, Mapping):
            raise TypeError(
                f"Multipart output expects a dict of the parts {list(self.descriptors)}, "
                f"got {type(obj).__name__}"
            )
        missing = [name for name in self.descriptors if name not in obj]
        extra = [str(name) for name in obj if name not in self.descriptors]
        if missing or extra:
            raise TypeError(
                f"Multipart output expects exactly the parts {list(self.descriptors)}: "
                f"missing {missing}, unexpected {extra}"
            )
        rendered: list[tuple[bytes, bytes]] = []
        for name, descriptor in self.descriptors.items():
            response = await descriptor.to_http_response(obj[name])
            body = getattr(response, "body", None)
            if not isinstance(body, bytes):
                raise TypeError(
                    f"part {name!r}: {type(descriptor).__name__} rendered a streamed response, "
                    "which cannot be put in a multipart body"
                )
            rendered.append((_part_headers(name, response, descriptor), body))
        boundary = _new_boundary(body for _, body in rendered)
        delimiter = b"--" + boundary
        chunks: list[bytes] = []
        for headers, body in rendered:
            chunks += [delimiter, b"\r\n", headers, b"\r\n", body, b"\r\n"]
        chunks += [delimiter, b"--\r\n"]
        return Response(b"".join(chunks), media_type=f"{FORM_DATA}; boundary={boundary.decode()}")

    # -- documentation -------------------------------------------------------------------------

    def to_spec(self) -> dict[str, Any]:
        return {
            "id": "bentoml.io.Multipart",
            "args": {name: d.to_spec() for name, d in self.descriptors.items()},
        }

    def openapi_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: _part_schema(d) for name, d in self.descriptors.items()},
            "required": list(self.descriptors),
        }

    def openapi_request_body(self) -> dict[str, Any]:
        media: dict[str, Any] = {
            "schema": self.openapi_schema(),
            "encoding": {
                name: {"contentType": ", ".join(_accepted_types(d))}
                for name, d in self.descriptors.items()
            },
        }
        example = self.openapi_example()
        if example is not None:
            media["example"] = example
        return {"required": True, "content": {FORM_DATA: media}}

    def openapi_example(self) -> Any:
        """The parts' examples, when every part has one that can be shown as JSON."""
        examples = {}
        for name, descriptor in self.descriptors.items():
            example = descriptor.openapi_example()
            if example is None or _is_binary(descriptor):
                return None
            examples[name] = example
        return examples

    def openapi_components(self) -> dict[str, Any]:
        components: dict[str, Any] = {}
        for name, descriptor in self.descriptors.items():
            for key, schema in descriptor.openapi_components().items():
                if key in components and components[key] != schema:
                    raise InvalidArgument(
                        f"Multipart part {name!r}: two different schemas are both named {key!r} "
                        "in the OpenAPI document; rename one of the pydantic models"
                    )
                components[key] = schema
        return components

    @classmethod
    def from_sample(cls, sample: Mapping[str, Any] | None = None, /, **samples: Any) -> Multipart:
        """``Multipart.from_sample(image=pil_image, meta={"k": 1})``: one descriptor per sample.

        A value that is already a descriptor is used as is (the way to be explicit); otherwise the
        descriptor is chosen by the sample's type: ndarray -> NumpyNdarray, DataFrame / Series ->
        PandasDataFrame / PandasSeries, PIL image -> Image, bytes -> File, str -> Text, and any
        other JSON-ready value (dict, list, number, pydantic model) -> JSON. Each descriptor is
        built with its own ``from_sample``, so the docs show the samples.
        """
        merged = {**(sample or {}), **samples}
        if not merged:
            raise InvalidArgument("Multipart.from_sample needs at least one named sample")
        return cls(
            **{
                name: value if isinstance(value, IODescriptor) else _descriptor_for(name, value)
                for name, value in merged.items()
            }
        )


# -- rendering and docs --------------------------------------------------------------------------


def _new_boundary(bodies: Any) -> bytes:
    """A random boundary that no part contains (a collision of 128 random bits is theoretical)."""
    materialised = list(bodies)
    while True:
        boundary = os.urandom(16).hex().encode()
        if not any(boundary in body for body in materialised):
            return boundary


def _part_headers(name: str, response: Response, descriptor: IODescriptor[Any]) -> bytes:
    from python_multipart.multipart import parse_options_header

    disposition = f'form-data; name="{name}"'
    _, params = parse_options_header(response.headers.get("content-disposition"))
    filename = params.get(b"filename")
    if filename:
        quoted = filename.decode("latin-1").replace("\\", "\\\\").replace('"', '\\"')
        disposition += f'; filename="{quoted}"'
    content_type = response.headers.get("content-type", descriptor.mime_type)
    return f"Content-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n".encode(
        "latin-1"
    )


def _accepted_types(descriptor: IODescriptor[Any]) -> list[str]:
    """The media types a part may be sent as: the descriptor's own, less its upload form."""
    content = descriptor.openapi_request_body().get("content", {})
    types = [t for t in content if not t.startswith("multipart/")]
    return types or [descriptor.mime_type]


def _is_binary(descriptor: IODescriptor[Any]) -> bool:
    media_type = parse_media_type(descriptor.mime_type)
    return media_type is not None and not (media_type.type == "text" or media_type.is_json)


def _part_schema(descriptor: IODescriptor[Any]) -> dict[str, Any]:
    if _is_binary(descriptor):
        return {"type": "string", "format": "binary"}
    return descriptor.openapi_schema()


def _descriptor_for(name: str, value: Any) -> IODescriptor[Any]:
    """The descriptor whose ``from_sample`` takes ``value``, looked up by type without imports."""
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    pil = sys.modules.get("PIL.Image")
    if np is not None and isinstance(value, np.ndarray):
        class_name = "NumpyNdarray"
    elif pd is not None and isinstance(value, pd.DataFrame):
        class_name = "PandasDataFrame"
    elif pd is not None and isinstance(value, pd.Series):
        class_name = "PandasSeries"
    elif pil is not None and isinstance(value, pil.Image):
        class_name = "Image"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        class_name = "File"
    elif isinstance(value, str):
        class_name = "Text"
    else:
        class_name = "JSON"
    from .. import io

    try:
        descriptor: IODescriptor[Any] = getattr(io, class_name).from_sample(value)
        return descriptor
    except InvalidArgument as exc:
        raise InvalidArgument(f"Multipart.from_sample part {name!r}: {exc.message}") from None

"""The contract every IO descriptor keeps: parse a request, render a response, describe both.

A descriptor turns an HTTP request body into the Python value an API function receives, and the
function's return value into an HTTP response. Anything wrong with a request is raised as a
``BentoMLException`` subclass with a 4xx status (``BadInput`` 400, ``UnsupportedMediaType`` 415,
...) whose message says what was wrong and where; the server turns it into the JSON error envelope.
"""

from __future__ import annotations

import copy
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..exceptions import BadInput, BentoMLException
from ._fast_json import decode_or_none
from .mediatype import MediaType, parse_media_type

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body, handed to the descriptor named for it."""

    name: str
    data: bytes
    media_type: MediaType | None
    filename: str | None = None


class IODescriptor(ABC, Generic[T]):
    #: media type of the responses this descriptor renders (and the main one it reads)
    mime_type: ClassVar[str] = "application/octet-stream"

    @abstractmethod
    async def from_http_request(self, request: Request) -> T:
        """Read and validate the body; raise a 4xx BentoMLException on anything unusable."""

    async def from_part(self, part: Part) -> T:
        """Parse one multipart part (for ``Multipart``); same errors as from_http_request.

        Descriptors override this; the message names the part so a client knows which one.
        """
        raise BadInput(
            f"part {part.name!r}: {type(self).__name__} cannot be sent in a multipart body"
        )

    @abstractmethod
    async def to_http_response(self, obj: T) -> Response:
        """Render an API function's return value."""

    @abstractmethod
    def openapi_schema(self) -> dict[str, Any]:
        """JSON Schema (OpenAPI 3.1 dialect) of the value in the body."""

    def openapi_example(self) -> Any:
        """A sample body value (JSON-ready) shown in the docs, or None; set by ``from_sample``."""
        return None

    def openapi_request_body(self) -> dict[str, Any]:
        media: dict[str, Any] = {"schema": self.openapi_schema()}
        example = self.openapi_example()
        if example is not None:
            media["example"] = example
        return {"required": True, "content": {self.mime_type: media}}

    def openapi_responses(self) -> dict[str, Any]:
        return {"content": {self.mime_type: {"schema": self.openapi_schema()}}}

    def openapi_components(self) -> dict[str, Any]:
        """Named schemas this descriptor refers to with ``#/components/schemas/...``."""
        return {}

    def to_spec(self) -> dict[str, Any]:
        """What ``/docs.json`` says about this descriptor (``x-bentoml-io-descriptor``), in
        classic BentoML's form: an ``id`` and the ``args`` a client needs to encode a request
        and decode an answer (``bentoml_classic.client`` reads it). A descriptor of the user's
        own is named by its class; a client treats its body as plain bytes."""
        cls = type(self)
        return {"id": f"{cls.__module__}.{cls.__qualname__}", "args": {}}

    #: 4xx statuses from_http_request can answer with, so that /docs.json documents only those
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400})

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> IODescriptor[Any]:
        raise NotImplementedError(f"{cls.__name__} does not support from_sample")


#: how error messages name what was read: the whole request body, or one multipart part
REQUEST_BODY = "request body"
PART_BODY = "part body"


async def read_nonempty_body(request: Request) -> bytes:
    return require_nonempty(await request.body(), REQUEST_BODY)


def require_nonempty(body: bytes, where: str = REQUEST_BODY) -> bytes:
    if not body:
        raise BadInput(f"{where} is empty")
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259 has no NaN or Infinity)")


def load_json_body(body: bytes, where: str = REQUEST_BODY, *, allow_nan: bool = True) -> Any:
    """``json.loads`` that turns every way a client can break it into a 400 naming the place.

    Besides malformed JSON, json.loads raises UnicodeDecodeError on bytes that are not UTF-8,
    RecursionError on deep nesting (100000 ``[``), and ValueError on integers longer than
    Python's digit limit: all of these are the client's fault, none may become a 500.

    ``allow_nan=False`` refuses Python's ``NaN`` / ``Infinity`` extension: a descriptor that
    cannot send them back (JSON renders with ``allow_nan=False``) must not take them in either.

    msgspec reads the body first (the same value, several times faster and smaller); what it
    refuses goes to ``json.loads``, which takes Python's extensions or says where it is wrong.
    """
    parsed, value = decode_or_none(body)
    if parsed:
        return value
    try:
        if allow_nan:
            return json.loads(body)
        return json.loads(body, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"invalid JSON in {where}: {exc.msg} at line {exc.lineno} column {exc.colno}"
            f" (char {exc.pos})",
            detail={"reason": exc.msg, "line": exc.lineno, "column": exc.colno, "pos": exc.pos},
        ) from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{where} is not valid {exc.encoding}: {exc.reason} at byte {exc.start}",
            detail={"encoding": exc.encoding, "reason": exc.reason, "byte_offset": exc.start},
        ) from None
    except RecursionError:
        raise BadInput(
            f"invalid JSON in {where}: nested too deeply",
            detail={"reason": "nesting too deep"},
        ) from None
    except ValueError as exc:
        reason = str(exc)
        if "integer string conversion" in reason:  # over sys.get_int_max_str_digits()
            reason = f"an integer has more than {sys.get_int_max_str_digits()} digits"
        raise BadInput(f"invalid JSON in {where}: {reason}", detail={"reason": reason}) from None


def request_media_type(request: Request) -> MediaType | None:
    return parse_media_type(request.headers.get("content-type"))


@contextmanager
def naming_part(name: str) -> Iterator[None]:
    """Name the part in any 4xx raised inside: ``part '<name>': `` before the message, and
    ``"part": name`` in a dict ``detail`` (a dict is added when there was none).

    A descriptor's ``from_part`` runs the same parsing code as ``from_http_request`` inside this,
    so a client of a multipart API learns which part was wrong without a second copy of the
    validation. Class and status are kept.
    """
    try:
        yield
    except BentoMLException as exc:
        renamed = copy.copy(exc)
        renamed.message = f"part {name!r}: {exc.message}"
        renamed.args = (renamed.message,)
        if isinstance(exc.detail, dict):
            renamed.detail = {"part": name, **exc.detail}
        elif exc.detail is None:
            renamed.detail = {"part": name}
        raise renamed from None


def json_type_name(value: Any) -> str:
    """How an error message names the JSON type a client sent ("an object", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


class JsonBodyDescriptor(IODescriptor[T]):
    """A descriptor whose body is JSON, whatever the Content-Type says: classic BentoML read
    the body of JSON, NumpyNdarray and PandasSeries as JSON without looking at it, and clients
    that send JSON as ``text/plain``, ``application/octet-stream`` or with no type at all were
    served. Request bodies and multipart parts go through the one ``parse_bytes``."""

    async def from_http_request(self, request: Request) -> T:
        return self.parse_bytes(await request.body())

    async def from_part(self, part: Part) -> T:
        with naming_part(part.name):
            return self.parse_bytes(part.data, PART_BODY)

    @abstractmethod
    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> T:
        """Validate JSON bytes into the value the API function receives."""

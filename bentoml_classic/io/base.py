"""The contract every IO descriptor keeps: parse a request, render a response, describe both.

A descriptor turns an HTTP request body into the Python value an API function receives, and the
function's return value into an HTTP response. Anything wrong with a request is raised as a
``BentoMLException`` subclass with a 4xx status (``BadInput`` 400, ``UnsupportedMediaType`` 415,
...) whose message says what was wrong and where; the server turns it into the JSON error envelope.
"""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..exceptions import BadInput, UnsupportedMediaType
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

    #: 4xx statuses from_http_request can answer with, so that /docs.json documents only those
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400})

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> IODescriptor[Any]:
        raise NotImplementedError(f"{cls.__name__} does not support from_sample")


async def read_nonempty_body(request: Request) -> bytes:
    body = await request.body()
    if not body:
        raise BadInput("request body is empty")
    return body


def load_json_body(body: bytes) -> Any:
    """``json.loads`` that turns every way a client can break it into a 400 naming the place.

    Besides malformed JSON, json.loads raises UnicodeDecodeError on bytes that are not UTF-8,
    RecursionError on deep nesting (100000 ``[``), and ValueError on integers longer than
    Python's digit limit: all of these are the client's fault, none may become a 500.
    """
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"invalid JSON in request body: {exc.msg} at line {exc.lineno} column {exc.colno}"
            f" (char {exc.pos})",
            detail={"reason": exc.msg, "line": exc.lineno, "column": exc.colno, "pos": exc.pos},
        ) from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"request body is not valid {exc.encoding}: {exc.reason} at byte {exc.start}",
            detail={"encoding": exc.encoding, "reason": exc.reason, "byte_offset": exc.start},
        ) from None
    except RecursionError:
        raise BadInput(
            "invalid JSON in request body: nested too deeply",
            detail={"reason": "nesting too deep"},
        ) from None
    except ValueError as exc:
        reason = str(exc)
        if "integer string conversion" in reason:  # over sys.get_int_max_str_digits()
            reason = f"an integer has more than {sys.get_int_max_str_digits()} digits"
        raise BadInput(
            f"invalid JSON in request body: {reason}", detail={"reason": reason}
        ) from None


def request_media_type(request: Request) -> MediaType | None:
    return parse_media_type(request.headers.get("content-type"))


# Clients that send JSON without saying so: no header, curl's form default, or text/plain.
_LENIENT_JSON_TYPES = ("application/x-www-form-urlencoded", "text/plain")


def require_json_media_type(request: Request) -> None:
    """Accept JSON and the types careless clients send JSON under; refuse the rest with 415."""
    media_type = request_media_type(request)
    if media_type is None or media_type.is_json or media_type.essence in _LENIENT_JSON_TYPES:
        return
    raise UnsupportedMediaType(
        f"unsupported Content-Type {media_type.essence!r}: this API reads application/json",
        detail={"content_type": media_type.essence, "expected": "application/json"},
    )

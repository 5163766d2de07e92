"""Text: the body as a ``str``, decoded with the charset the client declared (UTF-8 otherwise)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import BadInput, InvalidArgument, UnsupportedMediaType
from .base import PART_BODY, REQUEST_BODY, IODescriptor, Part, naming_part, request_media_type

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .mediatype import MediaType

# Besides text/*, the types clients send text under: curl -d defaults to the form type, and JSON
# or XML bodies are text too. Binary types (images, octet-stream, multipart) are refused with 415.
_TEXTUAL_TYPES = (
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
)


class Text(IODescriptor[str]):
    mime_type: ClassVar[str] = "text/plain"
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400, 415})

    def __init__(self) -> None:
        self._example: str | None = None

    def __repr__(self) -> str:
        return "Text()"

    async def from_http_request(self, request: Request) -> str:
        media_type = request_media_type(request)
        _require_textual(media_type, REQUEST_BODY)  # before reading a body we refuse
        return self.parse_bytes(await request.body(), media_type)

    async def from_part(self, part: Part) -> str:
        with naming_part(part.name):
            _require_textual(part.media_type, PART_BODY)
            return self.parse_bytes(part.data, part.media_type, PART_BODY)

    def parse_bytes(
        self, body: bytes, media_type: MediaType | None, where: str = REQUEST_BODY
    ) -> str:
        """Decode with the declared charset: the one path for request bodies and parts.

        An empty body is the empty string: text APIs may legitimately take "".
        """
        charset = (media_type.params.get("charset") if media_type else None) or "utf-8"
        try:
            return body.decode(charset)
        except LookupError:  # unknown codec, or a bytes-to-bytes one such as base64
            raise UnsupportedMediaType(
                f"unsupported charset {charset!r} in the Content-Type of the {where}",
                detail={"charset": charset},
            ) from None
        except UnicodeError as exc:  # UnicodeDecodeError, or idna/punycode's own UnicodeError
            offset = getattr(exc, "start", None)
            reason = getattr(exc, "reason", str(exc))
            at = f" at byte {offset}" if offset is not None else ""
            raise BadInput(
                f"{where} is not valid {charset}: {reason}{at}",
                detail={"charset": charset, "reason": reason, "byte_offset": offset},
            ) from None
        except ValueError as exc:  # e.g. a NUL character in the charset name
            raise UnsupportedMediaType(
                f"unsupported charset {charset!r} in the Content-Type of the {where}: {exc}",
                detail={"charset": charset},
            ) from None

    async def to_http_response(self, obj: str) -> Response:
        from starlette.responses import Response

        if not isinstance(obj, str):
            raise TypeError(f"Text output expects a str, got {type(obj).__name__}")
        # starlette appends "; charset=utf-8" to text/* media types and encodes as UTF-8.
        return Response(obj, media_type=self.mime_type)

    def openapi_schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def openapi_example(self) -> Any:
        return self._example

    @classmethod
    def from_sample(cls, sample: Any, **_: Any) -> Text:
        if not isinstance(sample, str):
            raise InvalidArgument(f"Text.from_sample takes a str, got {type(sample).__name__}")
        descriptor = cls()
        descriptor._example = sample
        return descriptor


def _require_textual(media_type: MediaType | None, where: str) -> None:
    if media_type is None or media_type.type == "text" or media_type.is_json:
        return
    if media_type.essence in _TEXTUAL_TYPES or media_type.subtype.endswith("+xml"):
        return
    raise UnsupportedMediaType(
        f"unsupported Content-Type {media_type.essence!r} for the {where}: expected text/plain",
        detail={"content_type": media_type.essence, "expected": "text/plain"},
    )

"""Text: the body as a ``str``, whatever the Content-Type, decoded as UTF-8 as classic did.

Classic BentoML decoded every Text body as UTF-8 and looked at neither the media type nor a
charset, so a client that labels its text ``application/octet-stream`` or with a charset it does
not use was served. Here too: any Content-Type is read, and UTF-8 comes first. A declared
charset is what this adds, where classic answered a 500: bytes that are not UTF-8 are decoded
with it. A charset in which ASCII text is not ASCII bytes (UTF-16, UTF-32) is tried first, since
a UTF-8 reading of such bytes is never what the client meant.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import BadInput, InvalidArgument
from .base import PART_BODY, REQUEST_BODY, IODescriptor, Part, naming_part, request_media_type

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .mediatype import MediaType

_UTF8 = "utf-8"


class Text(IODescriptor[str]):
    mime_type: ClassVar[str] = "text/plain"

    def __init__(self) -> None:
        self._example: str | None = None

    def __repr__(self) -> str:
        return "Text()"

    async def from_http_request(self, request: Request) -> str:
        return self.parse_bytes(await request.body(), request_media_type(request))

    async def from_part(self, part: Part) -> str:
        # A plain form field (no filename): classic's form parser fell back to latin-1.
        with naming_part(part.name):
            return self.parse_bytes(
                part.data, part.media_type, PART_BODY, latin1_fallback=part.filename is None
            )

    def parse_bytes(
        self,
        body: bytes,
        media_type: MediaType | None,
        where: str = REQUEST_BODY,
        *,
        latin1_fallback: bool = False,
    ) -> str:
        """Decode (see the module's doc): the one path for request bodies and parts.

        An empty body is the empty string: text APIs may legitimately take "".
        """
        declared = _text_codec(media_type.params.get("charset") if media_type else None)
        order = [_UTF8]
        if declared is not None and declared != _UTF8:
            order.insert(0 if not _ascii_compatible(declared) else 1, declared)
        if latin1_fallback:
            order.append("latin-1")
        failure: UnicodeError | None = None
        for codec in order:
            try:
                return body.decode(codec)
            except UnicodeError as exc:  # idna/punycode raise a bare UnicodeError
                failure = failure or exc
        assert failure is not None
        charset = order[0]
        offset = getattr(failure, "start", None)
        reason = getattr(failure, "reason", str(failure))
        at = f" at byte {offset}" if offset is not None else ""
        also = f" (nor {declared})" if declared is not None and declared != charset else ""
        raise BadInput(
            f"{where} is not valid {charset}{also}: {reason}{at}",
            detail={"charset": charset, "reason": reason, "byte_offset": offset},
        )

    async def to_http_response(self, obj: str) -> Response:
        from starlette.responses import Response

        if not isinstance(obj, str):
            raise TypeError(f"Text output expects a str, got {type(obj).__name__}")
        # starlette appends "; charset=utf-8" to text/* media types and encodes as UTF-8.
        return Response(obj, media_type=self.mime_type)

    def to_spec(self) -> dict[str, Any]:
        return {"id": "bentoml.io.Text", "args": {}}

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


def _text_codec(charset: str | None) -> str | None:
    """The codec a declared charset names, or None when there is none or it is no text codec
    (``klingon-8``, ``base64``): classic ignored charsets, so an unusable one is ignored too."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: a NUL character in the name
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return _UTF8 if info.name == "utf-8" else info.name


def _ascii_compatible(codec: str) -> bool:
    try:
        return "Text 09".encode(codec) == b"Text 09"
    except (UnicodeError, LookupError):
        return False

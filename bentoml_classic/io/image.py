"""Image: an encoded image in the body (or an uploaded file), a ``PIL.Image.Image`` in the API.

The function gets the image as Pillow opened it, as in classic BentoML: its own mode (an RGBA
PNG stays RGBA, a greyscale one L) and its ``format``, whether it came as the body or as a file
of a form. Only an explicit ``pilmode=`` converts it (classic used ``pilmode`` only to render
arrays; converting on request is this one's addition, so that a model is handed the mode it
declared).

Images are the easiest way to make a server allocate memory it does not have: a 50 KB PNG can
declare 100000 x 100000 pixels (30 GB once decoded). So the header is read first
(``PIL.Image.open`` decodes nothing), width x height is checked against ``max_pixels`` (by
default Pillow's own limit, the one classic had) and refused with 413 before a single pixel is
decoded, and only then is the image loaded. Only Pillow plugins of image media types are tried
(those of the allowed types first), which keeps exotic decoders (and PostScript, which runs
Ghostscript) away from client bytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import BadInput, InvalidArgument, PayloadTooLarge, UnsupportedMediaType
from ._upload import read_upload
from .base import (
    PART_BODY,
    REQUEST_BODY,
    IODescriptor,
    Part,
    naming_part,
    request_media_type,
    require_nonempty,
)
from .file import upload_form_schema
from .mediatype import MediaType, parse_media_type

if TYPE_CHECKING:
    import PIL.Image
    from starlette.requests import Request
    from starlette.responses import Response


class _DefaultMode(str):
    """The default ``pilmode``: "RGB" for rendering arrays, as in classic, but no conversion of
    requests; a mode the caller names (even "RGB") converts them."""


DEFAULT_PIL_MODE = _DefaultMode("RGB")

_BINARY_SCHEMA = {"type": "string", "format": "binary"}
# Types under which clients upload files without saying what they are: sniff the bytes instead.
_UNTYPED = ("application/octet-stream",)
# Modes JPEG can store; anything else (RGBA, P, LA, I;16, ...) is converted to RGB first.
_JPEG_MODES = ("RGB", "L", "CMYK")


class Image(IODescriptor["PIL.Image.Image"]):
    mime_type: ClassVar[str] = "image/jpeg"
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400, 413, 415})

    def __init__(
        self,
        pilmode: str | None = DEFAULT_PIL_MODE,
        mime_type: str = "image/jpeg",
        allowed_mime_types: list[str] | tuple[str, ...] | None = None,
        max_pixels: int | None = None,
    ) -> None:
        """``max_pixels`` bounds width x height (413 above it). None leaves Pillow's own limit,
        twice ``PIL.Image.MAX_IMAGE_PIXELS`` (179 MP, ~540 MB as RGB), which is what classic
        BentoML took; above it Pillow refuses to decode.

        The limit is on pixels, not bytes, because a body far under ``max_request_size`` can
        decode to gigabytes. Lower it for models that take small inputs, so that one request
        cannot take a worker's memory.
        """
        import PIL.Image

        PIL.Image.init()  # registers every plugin, so MIME, OPEN and SAVE are complete
        if pilmode is not None and pilmode not in PIL.Image.MODES:
            raise InvalidArgument(
                f"Image(pilmode={pilmode!r}) is not a Pillow mode; one of {PIL.Image.MODES}"
            )
        if max_pixels is not None and (not isinstance(max_pixels, int) or max_pixels <= 0):
            raise InvalidArgument(f"Image(max_pixels={max_pixels!r}) must be a positive int")
        self.pilmode = pilmode
        #: the mode requests are converted to: only one the caller named
        self._convert_to = None if pilmode is None or pilmode is DEFAULT_PIL_MODE else pilmode
        self.max_pixels = max_pixels
        self.mime_type = _essence(mime_type, "mime_type")  # type: ignore[misc]
        self._save_format = _save_format(self.mime_type)
        patterns = ["image/*"] if allowed_mime_types is None else list(allowed_mime_types)
        if isinstance(allowed_mime_types, str) or not patterns:
            raise InvalidArgument("Image(allowed_mime_types=...) takes a non-empty list of types")
        self.allowed_mime_types = [_essence(p, "allowed_mime_types") for p in patterns]
        self._formats = _open_formats(self.allowed_mime_types)
        #: classic opened whatever Pillow could, under any allowed label; so, failing the
        #: allowed types' plugins, those of every image type are tried
        self._other_formats = [f for f in _open_formats(["image/*"]) if f not in self._formats]

    def __repr__(self) -> str:
        return (
            f"Image(pilmode={self.pilmode!r}, mime_type={self.mime_type!r}, "
            f"allowed_mime_types={self.allowed_mime_types!r}, max_pixels={self.max_pixels})"
        )

    # -- input ---------------------------------------------------------------------------------

    async def from_http_request(self, request: Request) -> PIL.Image.Image:
        media_type = request_media_type(request)
        if media_type is not None and media_type.essence == "multipart/form-data":
            return await self.from_part(await read_upload(request, self._rank))
        if media_type is None or not self._allows(media_type):
            received = media_type.essence if media_type else None
            what = repr(received) if received else "missing"
            raise UnsupportedMediaType(
                f"{what} Content-Type for the {REQUEST_BODY}: expected {self._allowed_text()} "
                "or multipart/form-data with one file",
                detail={"content_type": received, "expected": self.allowed_mime_types},
            )
        return await self._decode_in_thread(await request.body(), REQUEST_BODY)

    async def from_part(self, part: Part) -> PIL.Image.Image:
        with naming_part(part.name):
            return await self.from_bytes(part.data, part.media_type, PART_BODY)

    async def from_bytes(
        self, data: bytes, media_type: MediaType | None, where: str = REQUEST_BODY
    ) -> PIL.Image.Image:
        """An image's bytes of a stated type (None, or octet-stream, for unstated): a part,
        or a gRPC ``File`` whose ``kind`` is the type."""
        untyped = media_type is None or media_type.essence in _UNTYPED
        if media_type is not None and not untyped and not self._allows(media_type):
            raise UnsupportedMediaType(
                f"unsupported Content-Type {media_type.essence!r} for the {where}: "
                f"expected {self._allowed_text()}",
                detail={
                    "content_type": media_type.essence,
                    "expected": self.allowed_mime_types,
                },
            )
        return await self._decode_in_thread(data, where)

    def _rank(self, media_type: MediaType | None) -> int:
        """Which file of a form to read: the first of an allowed type, else an untyped one."""
        if media_type is None or media_type.essence in _UNTYPED:
            return 1
        return 0 if self._allows(media_type) else 2

    def _allows(self, media_type: MediaType) -> bool:
        return media_type.type == "image" and any(
            media_type.matches(pattern) for pattern in self.allowed_mime_types
        )

    def _allowed_text(self) -> str:
        return ", ".join(self.allowed_mime_types)

    async def _decode_in_thread(self, data: bytes, where: str) -> PIL.Image.Image:
        from starlette.concurrency import run_in_threadpool

        require_nonempty(data, where)
        # Decoding takes milliseconds to seconds of CPU: keep it off the event loop.
        return await run_in_threadpool(self.decode, data, where)

    def decode(self, data: bytes, where: str = REQUEST_BODY) -> PIL.Image.Image:
        """Header, then the size check, then pixels and mode: nothing big is decoded unchecked."""
        import PIL.Image

        try:
            image: PIL.Image.Image = self._open(data)
        except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as exc:
            # Pillow's own global limit (MAX_IMAGE_PIXELS) fired first; a warning is raised
            # only where warnings are errors, and is a refusal all the same.
            raise PayloadTooLarge(
                f"image is too large to decode: {exc}",
                detail={"reason": "too many pixels", "max_pixels": self.max_pixels},
            ) from None
        except PIL.UnidentifiedImageError:
            raise BadInput(
                f"{where} is not an image of an accepted type ({self._allowed_text()})",
                detail={"reason": "unidentified image", "expected": self.allowed_mime_types},
            ) from None
        except Exception as exc:  # Pillow's plugins raise a zoo of types on hostile bytes
            raise _undecodable(exc, where) from None
        width, height = image.size
        if self.max_pixels is not None and width * height > self.max_pixels:
            image.close()
            raise PayloadTooLarge(
                f"image of {width}x{height} pixels ({width * height}) is over the limit of "
                f"{self.max_pixels} pixels",
                detail={
                    "width": width,
                    "height": height,
                    "pixels": width * height,
                    "max_pixels": self.max_pixels,
                },
            )
        try:
            image.load()
            if self._convert_to is not None and image.mode != self._convert_to:
                image = image.convert(self._convert_to)
        except PIL.Image.DecompressionBombError as exc:
            raise PayloadTooLarge(f"image is too large to decode: {exc}") from None
        except Exception as exc:  # truncated data, corrupt chunks, unconvertible modes
            raise _undecodable(exc, where) from None
        return image

    def _open(self, data: bytes) -> PIL.Image.Image:
        import PIL.Image

        try:
            return PIL.Image.open(io.BytesIO(data), formats=self._formats)
        except PIL.UnidentifiedImageError:
            if not self._other_formats:
                raise
            return PIL.Image.open(io.BytesIO(data), formats=self._other_formats)

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        data = await run_in_threadpool(self.encode, obj)
        return Response(data, media_type=self.mime_type)

    def encode(self, obj: Any) -> bytes:
        """A PIL image, or a numpy array (``Image.fromarray``), encoded as ``mime_type``."""
        import PIL.Image

        if not isinstance(obj, PIL.Image.Image):
            if type(obj).__module__.split(".")[0] != "numpy":
                raise TypeError(
                    f"Image output expects a PIL.Image.Image or a numpy array, "
                    f"got {type(obj).__name__}"
                )
            obj = PIL.Image.fromarray(obj)
        if self._save_format == "JPEG" and obj.mode not in _JPEG_MODES:
            # via RGBA for palettes, whose transparency Pillow will not drop in one step
            obj = (obj.convert("RGBA") if obj.mode in ("P", "PA") else obj).convert("RGB")
        buffer = io.BytesIO()
        obj.save(buffer, format=self._save_format)
        return buffer.getvalue()

    # -- documentation -------------------------------------------------------------------------

    def to_spec(self) -> dict[str, Any]:
        return {
            "id": "bentoml.io.Image",
            "args": {
                # a plain str: the default is a marked subclass, which YAML cannot write
                "pilmode": None if self.pilmode is None else str(self.pilmode),
                "mime_type": self.mime_type,
                "allowed_mime_types": list(self.allowed_mime_types),
            },
        }

    def openapi_schema(self) -> dict[str, Any]:
        return dict(_BINARY_SCHEMA)

    def openapi_request_body(self) -> dict[str, Any]:
        content: dict[str, Any] = {
            pattern: {"schema": self.openapi_schema()} for pattern in self.allowed_mime_types
        }
        content["multipart/form-data"] = {"schema": upload_form_schema()}
        return {"required": True, "content": content}

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> Image:
        """A PIL image or a path to one: its format becomes the descriptor's ``mime_type``."""
        import PIL.Image

        if isinstance(sample, (str, os.PathLike)):
            try:
                with PIL.Image.open(Path(sample)) as opened:
                    fmt = opened.format
            except (OSError, ValueError) as exc:
                raise InvalidArgument(f"Image.from_sample: cannot open {sample!r}: {exc}") from None
        elif isinstance(sample, PIL.Image.Image):
            fmt = sample.format
        else:
            raise InvalidArgument(
                f"Image.from_sample takes a PIL image or a path, got {type(sample).__name__}"
            )
        mime = PIL.Image.MIME.get(fmt or "")
        if mime is not None and fmt in PIL.Image.SAVE:
            kwargs.setdefault("mime_type", mime)
        return cls(**kwargs)


def _essence(value: str, what: str) -> str:
    media_type = parse_media_type(value) if isinstance(value, str) else None
    if media_type is None or media_type.type != "image":
        raise InvalidArgument(f"Image({what}=...): {value!r} is not an image/* media type")
    return media_type.essence


def _save_format(mime_type: str) -> str:
    import PIL.Image

    for fmt, mime in PIL.Image.MIME.items():
        if mime == mime_type and fmt in PIL.Image.SAVE:
            return fmt
    raise InvalidArgument(f"Image(mime_type={mime_type!r}): Pillow cannot encode this type")


def _open_formats(patterns: list[str]) -> list[str]:
    """The Pillow plugins whose media type an allowed pattern matches."""
    import PIL.Image

    formats = []
    for fmt, mime in PIL.Image.MIME.items():
        media_type = MediaType(*mime.split("/", 1))
        usable = fmt in PIL.Image.OPEN and media_type.type == "image"
        if usable and any(media_type.matches(pattern) for pattern in patterns):
            formats.append(fmt)
    unmatched = [p for p in patterns if not any(_matches(PIL.Image.MIME[f], p) for f in formats)]
    if unmatched:
        raise InvalidArgument(
            f"Image(allowed_mime_types=...): Pillow cannot decode {', '.join(unmatched)}"
        )
    return formats


def _matches(mime: str, pattern: str) -> bool:
    return MediaType(*mime.split("/", 1)).matches(pattern)


def _undecodable(exc: Exception, where: str) -> BadInput:
    reason = str(exc) or type(exc).__name__
    return BadInput(
        f"{where} is not a decodable image: {reason}",
        detail={"reason": reason, "exception": type(exc).__name__},
    )

"""Codecs for JSON, Text, Image and File: one value per body, each in its own media type."""

from __future__ import annotations

import io
import json
import os
from typing import TYPE_CHECKING, Any

from ..io.json import default_json
from .codec_base import OCTET_STREAM, Codec, Encoded, charset, essence, guess_type, read_path

if TYPE_CHECKING:
    import PIL.Image

#: the formats a PIL image is sent in when its own is not one the server takes: lossless first
_IMAGE_PREFERENCE = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff")
#: modes JPEG can store; an image in another one is sent as PNG (or converted, if JPEG is all)
_JPEG_MODES = ("RGB", "L", "CMYK")


class JsonCodec(Codec):
    """Any JSON value, a pydantic model, a dataclass or numpy values inside; the answer as the
    JSON value (a dict for a pydantic output: the model's class does not travel, as in
    classic; ``Model.model_validate(result)`` makes one)."""

    descriptor = "JSON"

    def encode(self, value: Any) -> Encoded:
        body = json.dumps(value, default=default_json, ensure_ascii=False).encode()
        return Encoded(body, "application/json")

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        return json.loads(body)


class TextCodec(Codec):
    """A ``str`` as UTF-8; the answer as ``str`` (a streamed answer whole, once it ended)."""

    descriptor = "Text"

    def encode(self, value: Any) -> Encoded:
        if isinstance(value, str):
            return Encoded(value.encode(), "text/plain; charset=utf-8")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return Encoded(bytes(value), "text/plain")
        raise TypeError(f"Text takes a str, got {type(value).__name__}")

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        return body.decode(charset(content_type))


class ImageCodec(Codec):
    """A PIL image, a numpy array (``Image.fromarray``), encoded bytes, or a path (``str`` or
    ``os.PathLike``); the answer as a PIL image."""

    descriptor = "Image"

    def encode(self, value: Any) -> Encoded:
        import PIL.Image

        if isinstance(value, (str, os.PathLike)):
            data, name = read_path(value)
            return Encoded(data, _sniffed_type(data) or guess_type(name) or OCTET_STREAM, name)
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            return Encoded(data, _sniffed_type(data) or OCTET_STREAM)
        if not isinstance(value, PIL.Image.Image):
            import numpy as np

            if not isinstance(value, np.ndarray):
                raise TypeError(
                    "Image takes a PIL image, a numpy array, encoded bytes or a path, "
                    f"got {type(value).__name__}"
                )
            value = PIL.Image.fromarray(value)
        return self._encoded_image(value)

    def _encoded_image(self, image: PIL.Image.Image) -> Encoded:
        import PIL.Image

        PIL.Image.init()
        mime_type = self._send_type(image)
        fmt = next(f for f, m in PIL.Image.MIME.items() if m == mime_type and f in PIL.Image.SAVE)
        if mime_type == "image/jpeg" and image.mode not in _JPEG_MODES:
            image = image.convert("RGB")
        buffer = io.BytesIO()
        try:
            image.save(buffer, format=fmt)
        except OSError:  # a mode the format cannot store (CMYK as PNG, say)
            buffer = io.BytesIO()
            image.convert("RGB" if mime_type == "image/jpeg" else "RGBA").save(buffer, format=fmt)
        return Encoded(buffer.getvalue(), mime_type)

    def _send_type(self, image: PIL.Image.Image) -> str:
        """The image's own format if the server takes it, else the first the server takes
        (PNG before JPEG, which is lossy and has no alpha)."""
        import PIL.Image

        allowed = [str(p) for p in self.args.get("allowed_mime_types") or ["image/*"]]
        own = PIL.Image.MIME.get(image.format or "")
        candidates = [own] if own else []
        jpeg_last = image.mode not in _JPEG_MODES
        candidates += sorted(_IMAGE_PREFERENCE, key=lambda t: jpeg_last and t == "image/jpeg")
        candidates += [p for p in allowed if "*" not in p]
        savable = {m for f, m in PIL.Image.MIME.items() if f in PIL.Image.SAVE}
        for candidate in candidates:
            if candidate in savable and any(_matches(candidate, p) for p in allowed):
                return candidate
        raise ValueError(f"Pillow cannot write any of the image types the API takes: {allowed}")

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        import PIL.Image

        image = PIL.Image.open(io.BytesIO(body))
        image.load()
        return image


class ReceivedFile(io.BytesIO):
    """A File answer: its bytes as a binary file object, with the ``name`` the server gave it
    (None without one) and its ``content_type``; ``getvalue()`` is the bytes."""

    def __init__(self, data: bytes, name: str | None, content_type: str | None) -> None:
        super().__init__(data)
        self.name = name
        self.content_type = content_type

    def __repr__(self) -> str:
        return f"<ReceivedFile name={self.name!r} content_type={self.content_type!r}>"


class FileCodec(Codec):
    """Bytes, a binary file object (read from where it stands; its ``name`` is sent as the
    filename), or a path (``str`` or ``os.PathLike``); the answer as a ``ReceivedFile``."""

    descriptor = "File"

    def encode(self, value: Any) -> Encoded:
        declared = self.args.get("mime_type")
        name: str | None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return Encoded(bytes(value), declared or OCTET_STREAM)
        if isinstance(value, (str, os.PathLike)):
            data, name = read_path(value)
        elif callable(getattr(value, "read", None)):
            data = value.read()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"File read {type(data).__name__} from the file: open it as binary")
            data = bytes(data)
            raw_name = getattr(value, "name", None)
            name = os.path.basename(raw_name) if isinstance(raw_name, str) else None
            own_type = getattr(value, "content_type", None)
            if isinstance(own_type, str):
                return Encoded(data, own_type, name or None)
        else:
            raise TypeError(
                f"File takes bytes, a binary file object or a path, got {type(value).__name__}"
            )
        return Encoded(data, guess_type(name) or declared or OCTET_STREAM, name or None)

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        return ReceivedFile(body, filename, essence(content_type))


def _sniffed_type(data: bytes) -> str | None:
    """The media type of encoded image bytes, from their header (nothing is decoded)."""
    import PIL.Image

    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            return PIL.Image.MIME.get(image.format or "")
    except (OSError, ValueError):
        return None


def _matches(mime_type: str, pattern: str) -> bool:
    kind, _, sub = pattern.partition("/")
    have_kind, _, have_sub = mime_type.partition("/")
    return kind in ("*", have_kind) and sub in ("*", have_sub)

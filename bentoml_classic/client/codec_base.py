"""The client's side of an IO descriptor: a Python value to a request body, an answer's body
to a Python value.

A codec is built from the ``x-bentoml-io-descriptor`` spec that ``/docs.json`` publishes
(``registry.codec_for``), never from the server's descriptor classes: those validate untrusted
requests (budgets, 4xx errors) and render answers with Starlette, none of which a client needs.
The server validates what the client sends and answers a 4xx that names the field; the client
only encodes, so a value the server would refuse is refused by the server, with its reasons.

Encoders import numpy, pandas or Pillow on first use: a client of a Text API never loads them.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class Encoded:
    """A request body (or one multipart part) ready to send."""

    content: bytes
    content_type: str
    #: the name of the file it came from, sent as the Content-Disposition filename
    filename: str | None = None


class Codec(ABC):
    """Encodes an API's input or decodes its output; ``args`` are the spec's arguments."""

    #: how error messages name the descriptor
    descriptor = "descriptor"

    def __init__(self, args: Mapping[str, Any]) -> None:
        self.args = args

    @abstractmethod
    def encode(self, value: Any) -> Encoded:
        """The body for ``value``; TypeError or ValueError when it cannot be sent this way."""

    @abstractmethod
    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        """The Python value of a 200's body (``filename``: the one its Content-Disposition
        gave); any exception means the body was not decodable."""


class RawCodec(Codec):
    """A descriptor the client does not know (a service's own class): bytes (or text) in,
    bytes out, with the first media type the document lists for the request body."""

    def __init__(
        self, args: Mapping[str, Any], descriptor: str, request_types: tuple[str, ...]
    ) -> None:
        super().__init__(args)
        self.descriptor = descriptor
        self.content_type = next((t for t in request_types if "*" not in t), OCTET_STREAM)

    def encode(self, value: Any) -> Encoded:
        if isinstance(value, str):
            return Encoded(value.encode(), self.content_type)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return Encoded(bytes(value), self.content_type)
        raise TypeError(
            f"this client does not know the descriptor {self.descriptor!r}: pass the request "
            "body as bytes or str"
        )

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        return body


def essence(content_type: str | None) -> str | None:
    """``type/subtype`` of a Content-Type header, lower-case, without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def charset(content_type: str | None, default: str = "utf-8") -> str:
    """The ``charset`` parameter of a Content-Type header, else ``default``."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return default


def read_path(value: str | os.PathLike[str]) -> tuple[bytes, str]:
    """The bytes of the file a path names, and its name without the directories."""
    path = Path(value)
    return path.read_bytes(), path.name


def guess_type(filename: str | None) -> str | None:
    if not filename:
        return None
    import mimetypes

    return mimetypes.guess_type(filename)[0]


def disposition_filename(header: str | None) -> str | None:
    """The ``filename`` of a Content-Disposition header (its last path component), if any."""
    if not header:
        return None
    from python_multipart.multipart import parse_options_header

    _, params = parse_options_header(header)
    raw = params.get(b"filename")
    if not raw:
        return None
    try:  # headers travel as latin-1; servers put UTF-8 names in them all the same
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        name = raw.decode("latin-1")
    return name.replace("\\", "/").rsplit("/", 1)[-1] or None

"""The Multipart codec: keyword arguments as the parts of a multipart/form-data body, each
encoded by its part's codec; a multipart answer as a dict of decoded parts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidArgument
from .codec_base import Codec, Encoded, disposition_filename

FORM_DATA = "multipart/form-data"


class MultipartCodec(Codec):
    descriptor = "Multipart"

    def __init__(self, args: Mapping[str, Any], parts: Mapping[str, Codec]) -> None:
        super().__init__(args)
        self.parts = dict(parts)

    def check_names(self, values: Mapping[str, Any]) -> None:
        """Exactly the declared parts, or an InvalidArgument naming the difference."""
        missing = [name for name in self.parts if name not in values]
        unexpected = [name for name in values if name not in self.parts]
        if missing or unexpected:
            raise InvalidArgument(
                f"this API takes the parts {list(self.parts)} as keyword arguments: "
                + "; ".join(
                    text
                    for text in (
                        f"missing {missing}" if missing else "",
                        f"unexpected {unexpected}" if unexpected else "",
                    )
                    if text
                ),
                detail={"expected": list(self.parts), "missing": missing, "unexpected": unexpected},
            )

    def encode(self, value: Any) -> Encoded:
        """``value``: the dict of parts (the call's keyword arguments)."""
        self.check_names(value)
        encoded: list[tuple[str, Encoded]] = []
        for name, codec in self.parts.items():
            try:
                encoded.append((name, codec.encode(value[name])))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"part {name!r}: {exc}") from exc
        boundary = _boundary([part.content for _, part in encoded])
        chunks: list[bytes] = []
        for name, part in encoded:
            chunks += [b"--", boundary, b"\r\n", _part_headers(name, part), b"\r\n"]
            chunks += [part.content, b"\r\n"]
        chunks += [b"--", boundary, b"--\r\n"]
        return Encoded(b"".join(chunks), f"{FORM_DATA}; boundary={boundary.decode()}")

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise ValueError(f"a multipart answer without a boundary ({content_type!r})")
        received = _split(body, boundary)
        missing = [name for name in self.parts if name not in received]
        if missing:
            raise ValueError(f"the multipart answer has no part {missing}")
        result: dict[str, Any] = {}
        for name, codec in self.parts.items():
            data, part_type, part_filename = received[name]
            try:
                result[name] = codec.decode(data, part_type, part_filename)
            except Exception as exc:
                raise ValueError(f"part {name!r}: {type(exc).__name__}: {exc}") from exc
        return result


def _boundary(bodies: list[bytes]) -> bytes:
    """A random boundary that no part contains."""
    while True:
        boundary = os.urandom(16).hex().encode()
        if not any(boundary in body for body in bodies):
            return boundary


def _part_headers(name: str, part: Encoded) -> bytes:
    disposition = f'form-data; name="{name}"'
    if part.filename:
        quoted = part.filename.replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", " ")
        disposition += f'; filename="{quoted}"'
    # names are identifiers; a filename goes as UTF-8, which is what servers read it as
    return f"Content-Disposition: {disposition}\r\nContent-Type: {part.content_type}\r\n".encode()


def _split(body: bytes, boundary: bytes) -> dict[str, tuple[bytes, str | None, str | None]]:
    """Each named part of a multipart body: its bytes, Content-Type and filename."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    parts: dict[str, tuple[bytes, str | None, str | None]] = {}
    headers: dict[str, bytes] = {}
    field = bytearray()
    value = bytearray()
    chunks: list[bytes] = []

    def part_begin() -> None:
        headers.clear()
        chunks.clear()

    def header_end() -> None:
        headers[field.decode("latin-1").strip().lower()] = bytes(value)
        field.clear()
        value.clear()

    def part_end() -> None:
        _, params = parse_options_header(headers.get("content-disposition"))
        name = params.get(b"name")
        if name is not None:
            content_type = headers.get("content-type")
            parts[name.decode("utf-8", "replace")] = (
                b"".join(chunks),
                None if content_type is None else content_type.decode("latin-1"),
                disposition_filename(headers.get("content-disposition", b"").decode("latin-1")),
            )

    callbacks: Any = {
        "on_part_begin": part_begin,
        "on_header_field": lambda data, start, end: field.extend(data[start:end]),
        "on_header_value": lambda data, start, end: value.extend(data[start:end]),
        "on_header_end": header_end,
        "on_part_data": lambda data, start, end: chunks.append(data[start:end]),
        "on_part_end": part_end,
    }
    parser = MultipartParser(boundary, callbacks)
    parser.write(body)
    parser.finalize()
    return parts

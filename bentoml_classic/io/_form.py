"""The wire side of ``Multipart``: split a multipart/form-data body into named parts.

python-multipart's streaming parser is used directly rather than Starlette's ``request.form()``:
that one decodes non-file fields to ``str`` (replacing bytes that are not UTF-8, so a Text part
could not refuse them) and drops their Content-Type, which JSON, Text and NumpyNdarray parts need.
The body is already bounded by ``api_server.max_request_size``; here the number of parts is
bounded too (by classic BentoML's own limits: 1,000 fields and 1,000 files), and python-multipart
bounds the headers of each part (count and size).

Which part goes to which descriptor is classic's rule: by name when every declared name is there
(other parts are ignored, and of a repeated name the last part counts); otherwise by position,
the first declared descriptor taking the first part, as long as there are enough parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import BadInput
from .base import Part
from .mediatype import parse_media_type

FORM_DATA = "multipart/form-data"
# RFC 2046 section 5.1.1: 1 to 70 of these characters, the last one not a space.
_BCHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ")
_MAX_BOUNDARY = 70
#: parts a body may have: classic BentoML's form parser took 1,000 fields and 1,000 files
MAX_PARTS = 2000


def check_boundary(boundary: str | None) -> bytes:
    """The ``boundary`` parameter as bytes, or a 400 saying what is wrong with it."""
    if not boundary:
        raise BadInput(
            f"the {FORM_DATA} Content-Type has no boundary parameter",
            detail={"reason": "no boundary"},
        )
    if (
        len(boundary) > _MAX_BOUNDARY
        or boundary.endswith(" ")
        or not all(char in _BCHARS for char in boundary)
    ):
        raise BadInput(
            f"invalid multipart boundary {boundary[: _MAX_BOUNDARY + 10]!r}: RFC 2046 allows 1 to "
            "70 letters, digits and '()+_,-./:=? (no trailing space)",
            detail={"reason": "invalid boundary"},
        )
    return boundary.encode("ascii")


class _Collector:
    """python-multipart callbacks: every named part by name, in the order the names first came."""

    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self.nameless = 0
        self.count = 0
        self.ended = False
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._chunks: list[bytes] | None = None
        self._current: tuple[str, str | None, str | None] | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self.count += 1
        if self.count > MAX_PARTS:
            raise BadInput(
                f"multipart body has more than {MAX_PARTS} parts",
                detail={"reason": "too many parts", "max_parts": MAX_PARTS},
            )
        self._headers = {}
        self._chunks = None
        self._current = None

    def header_end(self) -> None:
        self._headers[self._field.decode("latin-1").strip().lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        raw_name = params.get(b"name")
        if disposition != b"form-data" or raw_name is None:
            self.nameless += 1
            return
        # Browsers send names and filenames as raw UTF-8; the header bytes arrived as latin-1.
        filename = params.get(b"filename")
        content_type = self._headers.get("content-type")
        self._current = (
            raw_name.decode("utf-8", "replace"),
            None if filename is None else filename.decode("utf-8", "replace"),
            None if content_type is None else content_type.decode("latin-1"),
        )
        self._chunks = []

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._chunks is not None:
            self._chunks.append(data[start:end])

    def part_end(self) -> None:
        if self._current is not None and self._chunks is not None:
            name, filename, content_type = self._current
            data = b"".join(self._chunks)
            # a repeated name keeps its first place and takes the last value, like a dict
            self.parts[name] = Part(name, data, parse_media_type(content_type), filename)
        self._current = None
        self._chunks = None

    def end(self) -> None:
        self.ended = True


def split_form(body: bytes, boundary: bytes, expected: Sequence[str]) -> dict[str, Part]:
    """The part for each of the ``expected`` names (see the module's doc for which), or a 400."""
    parts = read_parts(body, boundary, expected)
    if all(name in parts for name in expected):
        return {name: parts[name] for name in expected}
    if len(parts) >= len(expected):  # classic's fallback: by position
        return dict(zip(expected, parts.values(), strict=False))
    missing = [name for name in expected if name not in parts]
    raise BadInput(
        f"multipart body has {len(parts)} part(s) for the {len(expected)} of this API, and "
        f"no part named {', '.join(repr(n) for n in missing)} (expected {list(expected)})",
        detail={"expected": list(expected), "missing": missing, "received": len(parts)},
    )


def read_parts(body: bytes, boundary: bytes, expected: Sequence[str]) -> dict[str, Part]:
    """Every named part of the body by name (of a repeated name, the last), or a 400 for a body
    that is no well-formed multipart/form-data; ``expected`` is what messages say was wanted."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser

    collector = _Collector()
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise BadInput(
            f"invalid multipart body (boundary {boundary.decode()!r}): {exc}",
            detail={"reason": str(exc)},
        ) from None
    if not collector.ended:
        raise BadInput(
            f"multipart body ends before its closing boundary '--{boundary.decode()}--'"
            + (" (the body is empty)" if not body else ""),
            detail={"reason": "no closing boundary"},
        )
    if collector.nameless:
        raise BadInput(
            f"{collector.nameless} part(s) of the multipart body have no "
            "'Content-Disposition: form-data; name=...' header",
            detail={"reason": "part without a name", "expected": list(expected)},
        )
    return collector.parts

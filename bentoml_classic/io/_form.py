"""The wire side of ``Multipart``: split a multipart/form-data body into named parts.

python-multipart's streaming parser is used directly rather than Starlette's ``request.form()``:
that one decodes non-file fields to ``str`` (replacing bytes that are not UTF-8, so a Text part
could not refuse them) and drops their Content-Type, which JSON, Text and NumpyNdarray parts need.
The body is already bounded by ``api_server.max_request_size``; here the number of parts is
bounded too, and python-multipart bounds the headers of each part (count and size).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import BadInput
from .base import Part
from .mediatype import parse_media_type

FORM_DATA = "multipart/form-data"
# RFC 2046 section 5.1.1: 1 to 70 of these characters, the last one not a space.
_BCHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ")
_MAX_BOUNDARY = 70
#: parts beyond the declared ones before the body is refused outright (each is a list entry)
_MAX_EXTRA_PARTS = 32
_MAX_NAME_SHOWN = 100


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
    """python-multipart callbacks: keep the data of expected parts, the names of the others."""

    def __init__(self, expected: Mapping[str, object]) -> None:
        self.expected = expected
        self.parts: dict[str, Part] = {}
        self.unexpected: list[str] = []
        self.duplicated: list[str] = []
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
        if self.count > len(self.expected) + _MAX_EXTRA_PARTS:
            raise BadInput(
                f"multipart body has more than {self.count - 1} parts; this API takes "
                f"{len(self.expected)}: {list(self.expected)}",
                detail={"reason": "too many parts", "expected": list(self.expected)},
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
        name = raw_name.decode("utf-8", "replace")
        if name not in self.expected:
            self.unexpected.append(name[:_MAX_NAME_SHOWN])
        elif name in self.parts:
            self.duplicated.append(name)
        else:
            filename = params.get(b"filename")
            content_type = self._headers.get("content-type")
            self._current = (
                name,
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
            self.parts[name] = Part(name, data, parse_media_type(content_type), filename)
        self._current = None
        self._chunks = None

    def end(self) -> None:
        self.ended = True


def split_form(body: bytes, boundary: bytes, expected: Mapping[str, object]) -> dict[str, Part]:
    """The parts of ``body`` by name; a 400 naming every missing, unexpected or repeated part."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser

    collector = _Collector(expected)
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
    missing = [name for name in expected if name not in collector.parts]
    if missing or collector.unexpected or collector.duplicated:
        raise _mismatch(list(expected), missing, collector.unexpected, collector.duplicated)
    return collector.parts


def _mismatch(
    expected: list[str], missing: list[str], unexpected: list[str], duplicated: list[str]
) -> BadInput:
    problems = []
    detail: dict[str, Any] = {"expected": expected}
    for what, names in (
        ("missing", missing),
        ("unexpected", list(dict.fromkeys(unexpected))),
        ("duplicated", list(dict.fromkeys(duplicated))),
    ):
        if names:
            problems.append(f"{what} part(s) {', '.join(repr(n) for n in names)}")
            detail[what] = names
    return BadInput(
        f"multipart body does not match the parts of this API: {'; '.join(problems)} "
        f"(expected exactly one of each of {expected})",
        detail=detail,
    )

"""Content-Type parsing, done once and properly instead of by substring matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class MediaType:
    type: str
    subtype: str
    #: read-only: parsed media types are cached and shared between requests
    params: Any = field(default_factory=lambda: MappingProxyType({}))

    @property
    def essence(self) -> str:
        """``type/subtype`` without parameters, lower case."""
        return f"{self.type}/{self.subtype}"

    @property
    def is_json(self) -> bool:
        return self.essence == "application/json" or self.subtype.endswith("+json")

    def matches(self, pattern: str) -> bool:
        """``pattern`` is ``type/subtype``, ``type/*`` or ``*/*``."""
        ptype, _, psub = pattern.lower().partition("/")
        return ptype in ("*", self.type) and psub in ("*", self.subtype)


def parse_media_type(header: str | None) -> MediaType | None:
    """Parse a Content-Type header; None when it is absent or not of the form type/subtype.

    Clients send the same few headers over and over, so results are cached (bounded).
    """
    if not header:
        return None
    return _parse_media_type(header)


@lru_cache(maxsize=256)
def _parse_media_type(header: str) -> MediaType | None:
    essence, *raw_params = _split_outside_quotes(header)
    mtype, sep, subtype = essence.lower().partition("/")
    mtype, subtype = mtype.strip(), subtype.strip()  # lenient with "text / plain"
    if not sep or not mtype or not subtype:
        return None
    params: dict[str, str] = {}
    for raw in raw_params:
        key, eq, value = raw.partition("=")
        if eq:
            params[key.strip().lower()] = _unquote(value.strip())
    return MediaType(mtype, subtype, MappingProxyType(params))


def _split_outside_quotes(header: str) -> list[str]:
    """Split at ``;`` except inside a quoted string, where it is part of a value
    (``name="a;b"``); a backslash escapes the next character there."""
    if '"' not in header:
        return header.split(";")
    pieces: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(header):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            pieces.append(header[start:index])
            start = index + 1
    pieces.append(header[start:])
    return pieces


def _unquote(value: str) -> str:
    """A quoted-string's content with its escapes resolved; any other value as it is."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value.strip('"')
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    escaped = False
    for char in inner:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)

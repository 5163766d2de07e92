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
    essence, *raw_params = header.split(";")
    mtype, sep, subtype = essence.lower().partition("/")
    mtype, subtype = mtype.strip(), subtype.strip()  # lenient with "text / plain"
    if not sep or not mtype or not subtype:
        return None
    params: dict[str, str] = {}
    for raw in raw_params:
        key, eq, value = raw.partition("=")
        if eq:
            params[key.strip().lower()] = value.strip().strip('"')
    return MediaType(mtype, subtype, MappingProxyType(params))

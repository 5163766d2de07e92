"""Where a runner worker listens: ``file:///path.sock`` (a Unix socket), ``tcp://host:port``, or
``tcps://host:port`` (TCP with TLS)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..exceptions import InvalidArgument


@dataclass(frozen=True)
class Address:
    """``file:///path.sock`` (a Unix socket), ``tcp://host:port`` or ``tcps://host:port``."""

    url: str
    path: str | None = None
    host: str | None = None
    port: int | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> Address:
        parts = urlsplit(url)
        if parts.scheme == "file" and parts.path:
            return cls(url, path=parts.path)
        if parts.scheme in ("tcp", "tcps") and parts.hostname and parts.port:
            return cls(url, host=parts.hostname, port=parts.port, tls=parts.scheme == "tcps")
        raise InvalidArgument(
            f"invalid runner address {url!r}: use tcp://HOST:PORT, tcps://HOST:PORT (TLS) or "
            "file:///PATH.sock"
        )

    @property
    def is_tcp(self) -> bool:
        return self.host is not None

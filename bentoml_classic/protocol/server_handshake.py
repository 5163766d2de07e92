"""A runner server's side of the token handshake, one per connection (``server.py``).

A server on TCP demands a HELLO frame carrying the shared token before it reads anything else:
until then its connection's frames are capped at ``HELLO_MAX_SIZE`` and nothing is unpickled,
so an unauthenticated peer can neither make it allocate nor reach an unpickler. An HTTP client
that wanders onto the port gets a real ``401`` response, and a peer that has not completed the
handshake within ``HANDSHAKE_TIMEOUT_S`` is disconnected, so that idle connections cannot pile
up on the port. A server on a Unix socket (no token) has nothing to check.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from . import codec
from .gathered_writes import FrameTransport

logger = logging.getLogger("bentoml_classic.runner_server")

HELLO_MAX_SIZE = 4096
#: seconds a TCP peer has to present the token (an API worker does so at once on connecting)
HANDSHAKE_TIMEOUT_S = 5.0
_HTTP_401_BODY = (
    b'{"error": {"type": "Unauthorized", "message": "runner server: send the shared token first"}}'
)
HTTP_401 = (
    b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_HTTP_401_BODY), _HTTP_401_BODY)
)


class Handshake:
    """Whether a connection's peer has presented the token, and the deadline for it to."""

    def __init__(self, token: bytes | None, timeout: float) -> None:
        self._token = token
        self._timeout = timeout
        #: True once the peer presented the token (at once when there is none to present)
        self.done = token is None
        self._deadline: asyncio.TimerHandle | None = None

    def start(self, transport: FrameTransport) -> None:
        """On connecting: the peer has ``timeout`` seconds from now."""
        if not self.done:
            self._deadline = asyncio.get_running_loop().call_later(
                self._timeout, self._timed_out, transport
            )

    def stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self, transport: FrameTransport) -> None:
        self._deadline = None
        if not self.done:
            logger.info("closing a runner connection that sent no token in time")
            transport.abort()

    def answer(self, call_id: int, kind: int, buffers: list[memoryview]) -> tuple[list[Any], bool]:
        """The frames that answer the peer's first frame, and whether it is admitted (if not,
        the connection is to be closed once they are written)."""
        assert self._token is not None
        hello = kind == codec.HELLO and len(buffers) in (1, 2)
        offered = bytes(buffers[0]) if hello else b""
        if not hmac.compare_digest(offered, self._token):
            refusal = "wrong or missing runner token"
            return codec.encode_error(call_id, "Unauthorized", refusal, 401), False
        spoken = bytes(buffers[1]) if len(buffers) == 2 else b"(none: an older release)"
        if spoken != codec.PROTOCOL_VERSION:
            message = (
                f"this runner speaks {codec.PROTOCOL_VERSION.decode()}, the caller "
                f"{spoken.decode(errors='replace')}: run the same bentoml_classic on both tiers"
            )
            return codec.encode_error(call_id, "ProtocolMismatch", message, 500), False
        self.done = True
        self.stop()
        return codec.frame(call_id, codec.HELLO, [b"ok"]), True

"""``GET /metrics`` on a port of its own (``api_server.grpc.metrics``), beside a gRPC server.

A gRPC port speaks only HTTP/2 gRPC, so Prometheus scrapes elsewhere, as in classic BentoML.
Each API worker listens on the same port with ``SO_REUSEPORT`` and answers with every worker's
figures (the multiprocess directory, ``metrics/registry.py``), so whichever worker the kernel
picks gives the whole deployment. The server is a few lines of asyncio rather than a second
HTTP stack: one request per connection, a bounded head, a bounded wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ..metrics.registry import CONTENT_TYPE

logger = logging.getLogger("bentoml_classic.grpc")

#: the most bytes of request head read, and the seconds a client has to send them
HEAD_LIMIT = 8192
HEAD_TIMEOUT_S = 10.0


def _answer(status: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class MetricsPort:
    def __init__(self, render: Callable[[], Awaitable[bytes]]) -> None:
        self._render = render
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(
            self._serve, host, port, reuse_port=True, limit=HEAD_LIMIT
        )

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            method, _, rest = head.partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
            if method == b"GET" and path == b"/metrics":
                answer = _answer("200 OK", await self._render(), CONTENT_TYPE)
            else:
                answer = _answer(
                    "404 Not Found", b'{"error":{"type":"NotFound","message":"GET /metrics"}}',
                    "application/json",
                )  # fmt: skip
            writer.write(answer)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except (ConnectionError, OSError):
            pass
        except Exception:
            logger.exception("metrics port: could not answer")
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

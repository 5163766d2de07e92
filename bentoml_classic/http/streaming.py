"""Streamed answers: an API with a ``Text()`` output whose function returns an iterator of
``str`` / ``bytes`` chunks (a generator, an async generator, ``runner.x.async_stream(...)``)
sends each chunk as it is produced (chunked transfer encoding).

- The first chunk is fetched before the response starts: until then nothing is sent, so a
  function that fails at once (or a deadline of ``api_server.traffic.timeout`` that passes)
  is still answered with the JSON error envelope, and ``ctx.response`` set before the first
  ``yield`` applies.
- A sync iterator is advanced in the worker's thread pool, one chunk per hop: its body may
  block (a model producing tokens) and the event loop must go on serving.
- An exception after the first chunk cannot become an error status any more: it is logged
  with the request id, and the connection is closed without the final empty chunk, so the
  client sees a cut stream rather than a complete-looking answer. The worker goes on serving.
- When the stream ends early (an error, the client went away) the source is closed, so a
  generator's ``finally`` runs: on the loop for an async one, in the pool for a sync one.

Once the first chunk has gone out the request no longer counts towards
``api_server.traffic`` (its deadline and concurrency): a stream may legitimately last longer
than any single answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Send

from ..io.base import IODescriptor
from ..io.text import Text
from .threadpool import ThreadPool

logger = logging.getLogger("bentoml_classic.server")

_END = object()


class StreamCut(Exception):
    """A streamed answer broke off after its first chunk (already logged).

    Raised out of the response rather than returned from, so that every middleware on the way
    sees the answer fail (one that re-streams the body, as Starlette's ``BaseHTTPMiddleware``
    does, would otherwise end it as if complete). The outermost layer (``request_id.py``)
    takes it: the server then closes the connection without the final chunk, and the client's
    chunked decoding fails instead of taking a cut answer as complete.
    """


def streams_chunks(descriptor: IODescriptor[Any]) -> bool:
    """Whether an API with this output descriptor may answer with a stream of chunks."""
    return isinstance(descriptor, Text)


def is_chunk_source(result: object) -> bool:
    """An iterator (sync or async) the function returned instead of one value."""
    return isinstance(result, Iterator | AsyncIterable) and not isinstance(result, str | bytes)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"a Text stream takes str or bytes chunks, got {type(chunk).__name__}")


class ChunkSource:
    """Takes chunks from the function's iterator as bytes: ``await next()``, None at the end."""

    def __init__(self, source: Iterator[Any] | AsyncIterable[Any], pool: ThreadPool) -> None:
        self._pool = pool
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(source, AsyncIterable):
            self._async = aiter(source)
        else:
            self._sync = source
        # held by a pool thread while it advances the sync iterator, so that closing it waits
        # for a step that is still running (a cancelled await does not stop the thread)
        self._lock = threading.Lock()
        self._closed = False
        self._exhausted = False

    async def next(self) -> bytes | None:
        if self._async is not None:
            try:
                chunk = await anext(self._async)
            except StopAsyncIteration:
                self._exhausted = True
                return None
        else:
            chunk = await self._pool.run(self._step)
            if chunk is _END:
                self._exhausted = True
                return None
        return _as_bytes(chunk)

    def _step(self) -> Any:
        with self._lock:
            if self._closed:
                return _END
            assert self._sync is not None
            return next(self._sync, _END)

    def _close_sync(self) -> None:
        with self._lock:
            self._closed = True
            close = getattr(self._sync, "close", None)
            if close is not None:
                close()

    def close_soon(self) -> None:
        """Close the source (run a generator's ``finally``) without waiting for it: this is
        called while a cancellation may still be under way, where an ``await`` would not
        run."""
        if self._exhausted:
            return
        if self._async is not None:
            aclose = getattr(self._async, "aclose", None)
            if aclose is None:
                return
            future: asyncio.Future[Any] = asyncio.ensure_future(aclose())
        else:
            future = self._pool.run(self._close_sync)
        _PENDING_CLOSES.add(future)
        future.add_done_callback(_closed)


#: closes under way: the loop keeps only weak references to tasks
_PENDING_CLOSES: set[asyncio.Future[Any]] = set()


def _closed(future: asyncio.Future[Any]) -> None:
    _PENDING_CLOSES.discard(future)
    if not future.cancelled() and future.exception() is not None:
        logger.warning("closing a streamed answer's source raised", exc_info=future.exception())


class ChunkStream(StreamingResponse):
    """The streamed answer; see the module docstring for what happens on errors.

    Starlette's ``StreamingResponse`` stops the stream when the client goes away; this class
    only replaces how the chunks are sent.
    """

    def __init__(
        self,
        source: ChunkSource,
        first: bytes,
        *,
        media_type: str,
        api_name: str,
        request_id: str | None,
    ) -> None:
        # not StreamingResponse.__init__: it would wrap an iterator this class never reads
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(None)
        self._source = source
        self._first = first
        self._api_name = api_name
        self._request_id = request_id

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        chunk: bytes | None = self._first
        try:
            while chunk is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                try:
                    chunk = await self._source.next()
                except Exception as exc:
                    logger.error(
                        "API %r raised %s in the middle of its streamed answer (request %s); "
                        "the stream was cut: %s",
                        self._api_name,
                        type(exc).__name__,
                        self._request_id,
                        exc,
                        exc_info=exc,
                    )
                    raise StreamCut(self._api_name) from None
        finally:
            self._source.close_soon()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

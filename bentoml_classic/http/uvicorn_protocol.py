"""uvicorn's HTTP protocol, with a response's head and body leaving the process in one write.

uvicorn hands the head and the body of a response to the transport in two ``write`` calls, and
uvloop sends each at once: two syscalls and two TCP segments per answer, so (with TCP_NODELAY)
the client wakes up twice, and on a cheap model that is a visible share of every request. Here
the writes made during one event loop turn are gathered and handed over together as one
``writelines`` (one ``writev``); what that gained is in docs/architecture.md ("Request path").

They are handed over as soon as the response is complete, else at the end of the turn. Waiting
for the end of the turn made every answer wait while its request's task unwound the middlewares
(a measurable part of the iris example's p50 at concurrency 1).

It also shows the app the server's set of requests in progress (the scope's ``REQUEST_TASKS``),
which decides whether a sync API function may run on the event loop thread (``sync_calls.py``).

Back-pressure is unchanged: past ``_FLUSH_AT`` bytes pending, a write goes through at once, so
a response streamed without yielding to the loop still fills the transport, which then pauses
the protocol as usual.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .sync_calls import REQUEST_TASKS

#: pending bytes that are handed over at once rather than at the end of the loop turn
_FLUSH_AT = 64 * 1024


class GatheringTransport:
    """Wraps a transport: writes of one loop turn go out together; all else is delegated."""

    __slots__ = ("_loop", "_pending", "_pending_size", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[Any] | None = None  # None: no flush scheduled
        self._pending_size = 0

    def write(self, data: Any) -> None:
        if self._pending is None:
            self._pending = [data]
            self._pending_size = len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
            self._pending_size += len(data)
        if self._pending_size >= _FLUSH_AT:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand over what is pending now (also the end-of-turn callback, which may then find
        nothing left)."""
        pending, self._pending = self._pending, None
        self._pending_size = 0
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()  # what was written before close() must still go out
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return int(self._transport.get_write_buffer_size()) + self._pending_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools missing: uvicorn's own choice, two writes and all
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
else:

    class GatheringHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(GatheringTransport(transport, self.loop))  # type: ignore[arg-type]

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope[REQUEST_TASKS] = self.tasks  # type: ignore[literal-required]

        def on_response_complete(self) -> None:
            # The last byte of the response is written: send it now, not after the request's
            # task has unwound and the loop came round to the flush.
            transport = self.transport
            if isinstance(transport, GatheringTransport):
                transport.flush()
            super().on_response_complete()


def http_protocol() -> Any:
    """What to give uvicorn's ``http=``: httptools' protocol with gathered writes, if it is there.

    A class at module level, so that uvicorn's reloader can pickle a config that names it.
    """
    return "auto" if HttpToolsProtocol is None else GatheringHttpToolsProtocol

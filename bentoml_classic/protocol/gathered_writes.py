"""The frames one event loop turn writes to a connection, handed to its transport together.

A dependency hop (``composition/``) sends one frame per call: nothing batches the calls of an
API worker to a service as runner calls are batched. When a burst of requests reaches an API
worker, their tasks each write a CALL frame in the same loop turn, and when the dependency's
runner answers a batch, the dependency's worker writes as many RESULT frames in one turn. Each
``writelines`` is a syscall of its own, and with TCP_NODELAY (or on a Unix socket) a wake-up of
the reader for each. Gathered, the turn's frames leave in one ``writev`` and the peer reads
them in one go. What this gained is in docs/benchmarks.md (composition).

A frame is never held past the end of the turn that wrote it (one ``call_soon``), so a lone
call waits one pass of the loop at most. The bytes are the callers' objects, already in memory;
the list only holds references to them until the transport takes them, as it would have.
Whoever reads the transport's state (``get_write_buffer_size``) sees the gathered frames too:
the runner server's stand-in (``stand_in.py``) must not write past them.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class FrameTransport(Protocol):
    """What the protocol's connections use of a transport: ``asyncio.Transport`` (or uvloop's,
    which behaves as one), or a ``GatheredWrites`` around it."""

    def writelines(self, chunks: list[Any]) -> None: ...

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class GatheredWrites:
    """Wraps one connection's transport; ``writelines`` gathers until the end of the turn."""

    __slots__ = ("_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[Any] | None = None  # None: no flush scheduled

    def writelines(self, chunks: list[Any]) -> None:
        if self._pending is None:
            self._pending = list(chunks)
            self._loop.call_soon(self.flush)
        else:
            self._pending.extend(chunks)

    def write(self, data: bytes) -> None:
        self.writelines([data])

    def flush(self) -> None:
        """Hand what is gathered to the transport now (the end-of-turn callback, which may find
        nothing left)."""
        pending, self._pending = self._pending, None
        if pending and not self.transport.is_closing():
            self.transport.writelines(pending)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_write_buffer_size(self) -> int:
        pending = self._pending
        gathered = sum(_nbytes(chunk) for chunk in pending) if pending else 0
        return int(self.transport.get_write_buffer_size()) + gathered

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def close(self) -> None:
        """What was written before still goes out first."""
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self._pending = None
        self.transport.abort()


def _nbytes(chunk: Any) -> int:
    return chunk.nbytes if isinstance(chunk, memoryview) else len(chunk)

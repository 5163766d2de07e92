"""The asyncio client of the runner protocol, for ``await runner.x.async_run(...)`` and
``runner.x.async_stream(...)``.

Concurrent calls and streams share one connection per runner worker, multiplexed by call id:
answers may come back in any order and reach their callers (``client_streams.py`` for streams).
A client of a dependency service gathers the calls of a loop turn into CALLS frames
(``call_batches.py``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from ..exceptions import InvalidArgument, ServiceUnavailable
from . import call_batches, codec, one_array_frames
from .address import Address
from .client_streams import Credit, StreamInbox
from .frame_reader import FrameReader
from .gathered_writes import GatheredWrites
from .replies import (
    ConnectionLost,
    answer,
    next_call_id,
    timed_out,
    unavailable,
    unsendable,
)

#: what a call's future holds: the answer's kind and its buffers, or (RESULTS, the value) for an
#: answer that came in a RESULTS frame, decoded there
Answer = tuple[int, Any]


class _AsyncConnection(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self.reader = FrameReader()
        self.pending: dict[int, asyncio.Future[Answer]] = {}
        #: streams in progress, by call id
        self.streams: dict[int, StreamInbox] = {}
        self.transport: asyncio.Transport | None = None
        #: the transport, the frames of one loop turn written together (``gathered_writes.py``)
        self.writes: GatheredWrites | None = None
        #: the calls of one loop turn that may share a frame
        self.calls: call_batches.GatheredCalls | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one
        self.transport = cast(asyncio.Transport, transport)
        loop = asyncio.get_running_loop()
        self.writes = GatheredWrites(self.transport, loop)
        self.calls = call_batches.GatheredCalls(self.writes, loop)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending, self.pending = self.pending, {}
        reason = str(exc or "connection closed by the runner")
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))
        streams, self.streams = self.streams, {}
        for inbox in streams.values():
            inbox.lose(ConnectionLost(reason))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frames = self.reader.buffer_updated(nbytes)
        except codec.FrameError:
            assert self.transport is not None
            self.transport.abort()
            return
        for call_id, kind, buffers in frames:
            if kind == codec.RESULTS:
                self._deliver_results(buffers)
                continue
            future = self.pending.pop(call_id, None)
            if future is not None:
                if not future.done():
                    future.set_result((kind, buffers))
                continue
            inbox = self.streams.get(call_id)
            if inbox is not None:
                inbox.deliver(kind, buffers)

    def _deliver_results(self, buffers: list[memoryview]) -> None:
        try:
            _, answers = call_batches.decode(buffers)
        except (codec.FrameError, ValueError):
            assert self.transport is not None
            self.transport.abort()
            return
        pending = self.pending
        for call_id, value in answers:
            future = pending.pop(call_id, None)
            if future is not None and not future.done():
                future.set_result((codec.RESULTS, value))

    def send(self, call_id: int, chunks: list[Any]) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = future
        assert self.writes is not None
        self.writes.writelines(chunks)
        return future

    def send_joinable(self, call_id: int, method: str, array: Any) -> asyncio.Future[Answer]:
        """Send a call of one joinable array at the turn's end, with the turn's others."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = future
        assert self.calls is not None
        self.calls.add(call_id, method, array)
        return future

    def write(self, chunks: list[Any]) -> None:
        if self.writes is not None and not self.closed:
            self.writes.writelines(chunks)


class AsyncRunnerClient:
    def __init__(
        self,
        runner: str,
        addresses: Sequence[Address],
        token: bytes | None,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        gathers_calls: bool = False,
    ) -> None:
        """``gathers_calls``: calls of one loop turn may share a frame (``call_batches.py``),
        for a dependency service, whose calls no caller-side batcher joins."""
        if not addresses:
            raise InvalidArgument(f"runner {runner!r} has no address")
        self.runner = runner
        self.addresses = list(addresses)
        self.token = token
        self.timeout = timeout
        #: for ``tcps://`` addresses (the system's CAs when None)
        self.ssl_context = ssl_context
        self.gathers_calls = gathers_calls
        self._connections: list[_AsyncConnection | None] = [None] * len(self.addresses)
        self._indexes = range(len(self.addresses))
        #: which workers have answered a ping since this client began
        self._answered = [False] * len(self.addresses)
        self._locks: list[asyncio.Lock] | None = None

    async def _connect(self, index: int) -> _AsyncConnection:
        connection = self._connections[index]
        if connection is not None and not connection.closed:
            return connection
        if self._locks is None:
            self._locks = [asyncio.Lock() for _ in self.addresses]
        async with self._locks[index]:
            connection = self._connections[index]
            if connection is not None and not connection.closed:
                return connection
            address = self.addresses[index]
            loop = asyncio.get_running_loop()
            try:
                if address.tls:
                    _, connection = await loop.create_connection(
                        _AsyncConnection,
                        address.host or "",
                        address.port or 0,
                        ssl=self.ssl_context or ssl.create_default_context(),
                        server_hostname=address.host,
                    )
                elif address.is_tcp:
                    _, connection = await loop.create_connection(
                        _AsyncConnection, address.host or "", address.port or 0
                    )
                else:
                    assert address.path is not None
                    _, connection = await loop.create_unix_connection(
                        _AsyncConnection, address.path
                    )
            except OSError as exc:
                raise unavailable(self.runner, address, exc) from exc
            if self.token is not None:
                try:
                    await self._hello(connection)
                except (ConnectionLost, TimeoutError) as exc:
                    if connection.transport is not None:
                        connection.transport.close()
                    raise unavailable(self.runner, address, exc) from None
            self._connections[index] = connection
            return connection

    async def _hello(self, connection: _AsyncConnection) -> None:
        call_id = next_call_id()
        future = connection.send(call_id, codec.hello(call_id, self.token or b""))
        kind, buffers = await asyncio.wait_for(future, self.timeout)
        if kind != codec.HELLO:
            if connection.transport is not None:
                connection.transport.close()  # refused: do not wait for the runner to hang up
            answer(kind, buffers, self.runner, "(handshake)")

    def _pick(self) -> int:
        """The runner worker with the fewest calls in flight from this process."""
        if len(self._connections) == 1:
            return 0
        return min(
            range(len(self._connections)),
            key=lambda i: (
                len(c.pending) + len(c.streams) if (c := self._connections[i]) is not None else -1
            ),
        )

    async def call(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], waited: float = 0.0
    ) -> Any:
        """``waited``: how long the call has already waited in this process (a batching queue)."""
        index = self._pick()
        connection = await self._connect(index)
        call_id = next_call_id()
        array = call_batches.lone_array(args, kwargs, waited) if self.gathers_calls else None
        if array is not None:
            future = connection.send_joinable(call_id, method, array)
        else:
            try:
                chunks = one_array_frames.encode_call(call_id, method, args, kwargs, waited)
            except Exception as exc:
                raise unsendable(self.runner, method, exc) from exc
            future = connection.send(call_id, chunks)
        timeout = self.timeout
        expiry = asyncio.get_running_loop().call_later(timeout, _expire, future)
        try:
            answer_kind, buffers = await future
        except ConnectionLost as exc:
            raise unavailable(self.runner, self.addresses[index], exc, method) from None
        except TimeoutError:
            # Left in ``pending`` until its answer comes (then dropped) or the connection is
            # lost: a worker stuck on a call keeps counting it, so _pick() sends new calls to
            # its siblings meanwhile.
            raise timed_out(self.runner, method, timeout) from None
        finally:
            expiry.cancel()
        if answer_kind == codec.RESULTS:
            return buffers  # decoded already
        return answer(answer_kind, buffers, self.runner, method)

    async def stream(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        """The items of a generator method as the runner yields them. ``runners.timeout``
        bounds the wait for each one; leaving early (or being cancelled) cancels the stream."""
        call_id = next_call_id()
        try:
            chunks = codec.encode_stream_call(call_id, method, args, kwargs)
        except Exception as exc:
            raise unsendable(self.runner, method, exc) from exc
        index = self._pick()
        connection = await self._connect(index)
        inbox = connection.streams[call_id] = StreamInbox()
        connection.write(chunks)
        credit = Credit()
        finished = False
        try:
            while True:
                try:
                    kind, buffers = await inbox.next_frame(self.timeout)
                except ConnectionLost as exc:
                    finished = True
                    raise unavailable(self.runner, self.addresses[index], exc, method) from None
                except TimeoutError:
                    raise timed_out(self.runner, method, self.timeout) from None
                if kind != codec.CHUNK:
                    finished = True
                    if kind == codec.END:
                        return
                    answer(kind, buffers, self.runner, method)  # raises the stream's error
                    raise ServiceUnavailable(f"runner {self.runner!r} sent frame {kind}")
                item = codec.decode(kind, buffers)
                if returned := credit.take():
                    connection.write(codec.credit(call_id, returned))
                yield item
        finally:
            connection.streams.pop(call_id, None)
            if not finished:
                connection.write(codec.empty_frame(call_id, codec.CANCEL))

    async def ping(self, timeout: float) -> bool:
        """Whether this runner can serve: every worker has answered a ping once (traffic should
        not come before the workers are up), and one answers now within ``timeout``. A worker
        stuck on a model call, or restarting, leaves its siblings to serve; the callers pass
        it over meanwhile."""
        pings = [asyncio.ensure_future(self._ping_one(i, timeout)) for i in self._indexes]
        if not all(self._answered):
            for index, answered in enumerate(await asyncio.gather(*pings)):
                self._answered[index] = self._answered[index] or answered
            return all(self._answered)
        try:
            for ping in asyncio.as_completed(pings):
                if await ping:
                    return True
            return False
        finally:
            for ping in pings:
                ping.cancel()

    async def _ping_one(self, index: int, timeout: float) -> bool:
        try:
            connection = await asyncio.wait_for(self._connect(index), timeout)
            call_id = next_call_id()
            future = connection.send(call_id, codec.empty_frame(call_id, codec.PING))
            kind, _ = await asyncio.wait_for(future, timeout)
        except (TimeoutError, ServiceUnavailable, ConnectionLost):
            return False
        return bool(kind == codec.PONG)

    async def metrics(self, timeout: float, text: bool = False) -> list[bytes | None]:
        """Send every address a METRICS frame at once: each worker writes the figures it holds,
        and answers with its deployment's Prometheus text if ``text``, else ``b""``. The
        answers in address order; None where none came within ``timeout``."""
        return list(
            await asyncio.gather(*(self._metrics_of(i, timeout, text) for i in self._indexes))
        )

    async def _metrics_of(self, index: int, timeout: float, text: bool) -> bytes | None:
        try:
            connection = await asyncio.wait_for(self._connect(index), timeout)
            call_id = next_call_id()
            if text:
                frame = codec.frame(call_id, codec.METRICS, [codec.METRICS_TEXT])
            else:
                frame = codec.empty_frame(call_id, codec.METRICS)
            kind, buffers = await asyncio.wait_for(connection.send(call_id, frame), timeout)
        except (TimeoutError, ServiceUnavailable, ConnectionLost):
            return None
        answer = codec.decode(kind, buffers) if kind == codec.RESULT else None
        return answer if isinstance(answer, bytes) else None

    def close(self) -> None:
        for connection in self._connections:
            if connection is not None and connection.writes is not None:
                if connection.calls is not None:
                    connection.calls.flush()
                connection.writes.close()  # what was written goes out first
        self._connections = [None] * len(self.addresses)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())

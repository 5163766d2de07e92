"""The client half of the runner protocol, as used by API workers.

Two clients share the framing and the error mapping:

- ``AsyncRunnerClient`` multiplexes concurrent calls over one connection per runner worker (call
  ids match answers to callers), for ``await runner.x.async_run(...)``;
- ``BlockingRunnerClient`` keeps one plain socket per thread per runner worker, for
  ``runner.x.run(...)`` from sync API functions: a blocking send/recv in the calling thread costs
  less than handing the call to the event loop and waiting for it there.
"""

from __future__ import annotations

import asyncio
import itertools
import select
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from ..exceptions import GatewayTimeout, InvalidArgument, RunnerError, ServiceUnavailable
from . import codec


@dataclass(frozen=True)
class Address:
    """``file:///path.sock`` (a Unix socket) or ``tcp://host:port``."""

    url: str
    path: str | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> Address:
        parts = urlsplit(url)
        if parts.scheme == "file" and parts.path:
            return cls(url, path=parts.path)
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            return cls(url, host=parts.hostname, port=parts.port)
        raise InvalidArgument(
            f"invalid runner address {url!r}: use tcp://HOST:PORT or file:///PATH.sock"
        )

    @property
    def is_tcp(self) -> bool:
        return self.host is not None


def _answer(kind: int, buffers: list[memoryview], runner: str, method: str) -> Any:
    """Turn a RESULT or ERROR frame into the value (or the exception) the caller sees."""
    if kind == codec.RESULT:
        return codec.decode(kind, buffers)
    if kind != codec.ERROR:
        raise ServiceUnavailable(f"runner {runner!r} answered with an unexpected frame {kind}")
    error = codec.decode_error(buffers)
    if error["status"] == 401:
        raise ServiceUnavailable(
            f"runner {runner!r} refused this server: wrong or missing BENTOML_RUNNER_TOKEN"
        )
    if error["status"] == 503:
        # the runner shed the call (queue full, waited too long): retryable, with Retry-After
        raise ServiceUnavailable(
            f"runner {runner!r} method {method!r}: {error['message']}",
            detail={"runner": runner, "method": method},
        )
    raise RunnerError(
        f"runner {runner!r} method {method!r} raised {error['type']}: {error['message']}",
        detail={"exception": error["type"], "runner": runner, "method": method},
        status=error["status"],
    )


def _unavailable(runner: str, address: Address, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"runner {runner!r} at {address.url} is unavailable ({type(exc).__name__}: {exc}); "
        "retry shortly",
        detail={"runner": runner},
    )


def _timeout(runner: str, method: str, seconds: float) -> GatewayTimeout:
    return GatewayTimeout(
        f"runner {runner!r} method {method!r} did not answer within {seconds:g}s",
        detail={"runner": runner, "method": method, "timeout": seconds},
    )


class _ConnectionLost(Exception):
    pass


class _StaleConnection(Exception):
    """The runner had closed this connection before a frame went out: none of it arrived."""


class _AsyncConnection(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self.reader = codec.FrameReader()
        self.pending: dict[int, asyncio.Future[tuple[int, list[memoryview]]]] = {}
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(_ConnectionLost(str(exc or "connection closed by the runner")))

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
            future = self.pending.pop(call_id, None)
            if future is not None and not future.done():
                future.set_result((kind, buffers))

    def send(self, call_id: int, chunks: list[Any]) -> asyncio.Future[tuple[int, list[memoryview]]]:
        assert self.transport is not None
        future: asyncio.Future[tuple[int, list[memoryview]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.pending[call_id] = future
        self.transport.writelines(chunks)
        return future


_call_ids = itertools.count(1)


def _next_call_id() -> int:
    return next(_call_ids) & 0xFFFFFFFF


class AsyncRunnerClient:
    def __init__(
        self, runner: str, addresses: Sequence[Address], token: bytes | None, timeout: float
    ) -> None:
        if not addresses:
            raise InvalidArgument(f"runner {runner!r} has no address")
        self.runner = runner
        self.addresses = list(addresses)
        self.token = token
        self.timeout = timeout
        self._connections: list[_AsyncConnection | None] = [None] * len(self.addresses)
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
                if address.is_tcp:
                    _, connection = await loop.create_connection(
                        _AsyncConnection, address.host, address.port
                    )
                else:
                    assert address.path is not None
                    _, connection = await loop.create_unix_connection(
                        _AsyncConnection, address.path
                    )
            except OSError as exc:
                raise _unavailable(self.runner, address, exc) from exc
            if self.token is not None:
                try:
                    await self._hello(connection)
                except (_ConnectionLost, TimeoutError) as exc:
                    if connection.transport is not None:
                        connection.transport.close()
                    raise _unavailable(self.runner, address, exc) from None
            self._connections[index] = connection
            return connection

    async def _hello(self, connection: _AsyncConnection) -> None:
        call_id = _next_call_id()
        future = connection.send(call_id, codec.hello(call_id, self.token or b""))
        kind, buffers = await asyncio.wait_for(future, self.timeout)
        if kind != codec.HELLO:
            if connection.transport is not None:
                connection.transport.close()  # refused: do not wait for the runner to hang up
            _answer(kind, buffers, self.runner, "(handshake)")

    def _pick(self) -> int:
        """The runner worker with the fewest calls in flight from this process."""
        if len(self._connections) == 1:
            return 0
        return min(
            range(len(self._connections)),
            key=lambda i: len(c.pending) if (c := self._connections[i]) is not None else -1,
        )

    async def call(self, method: str, args: tuple, kwargs: dict, waited: float = 0.0) -> Any:
        """``waited``: how long the call has already waited in this process (a batching queue)."""
        index = self._pick()
        connection = await self._connect(index)
        call_id = _next_call_id()
        future = connection.send(call_id, codec.encode_call(call_id, method, args, kwargs, waited))
        timeout = self.timeout
        expiry = asyncio.get_running_loop().call_later(timeout, _expire, future)
        try:
            answer_kind, buffers = await future
        except _ConnectionLost as exc:
            raise _unavailable(self.runner, self.addresses[index], exc) from None
        except TimeoutError:
            connection.pending.pop(call_id, None)
            raise _timeout(self.runner, method, timeout) from None
        finally:
            expiry.cancel()
        return _answer(answer_kind, buffers, self.runner, method)

    async def ping(self, timeout: float) -> bool:
        """True when every worker of this runner answers within ``timeout``."""
        for index in range(len(self.addresses)):
            try:
                connection = await asyncio.wait_for(self._connect(index), timeout)
                call_id = _next_call_id()
                future = connection.send(call_id, codec.frame(call_id, codec.PING, [b""]))
                kind, _ = await asyncio.wait_for(future, timeout)
            except (TimeoutError, ServiceUnavailable, _ConnectionLost):
                return False
            if kind != codec.PONG:
                return False
        return True

    async def metrics(self, timeout: float) -> list[Any]:
        """Each worker's metrics snapshot, in address order; None where a worker is down."""
        snapshots: list[Any] = []
        for index in range(len(self.addresses)):
            try:
                connection = await asyncio.wait_for(self._connect(index), timeout)
                call_id = _next_call_id()
                future = connection.send(call_id, codec.frame(call_id, codec.METRICS, [b""]))
                kind, buffers = await asyncio.wait_for(future, timeout)
                snapshots.append(codec.decode(kind, buffers) if kind == codec.RESULT else None)
            except (TimeoutError, ServiceUnavailable, _ConnectionLost):
                snapshots.append(None)
        return snapshots

    def close(self) -> None:
        for connection in self._connections:
            if connection is not None and connection.transport is not None:
                connection.transport.close()
        self._connections = [None] * len(self.addresses)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class BlockingRunnerClient:
    def __init__(
        self, runner: str, addresses: Sequence[Address], token: bytes | None, timeout: float
    ) -> None:
        self.runner = runner
        self.addresses = list(addresses)
        self.token = token
        self.timeout = timeout
        self._local = threading.local()
        self._round_robin = itertools.count()
        self._all_sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _socket(self) -> tuple[socket.socket, codec.FrameReader, Address]:
        slots: dict[int, tuple[socket.socket, codec.FrameReader, Any]] | None = getattr(
            self._local, "slots", None
        )
        if slots is None:
            slots = self._local.slots = {}
        index = next(self._round_robin) % len(self.addresses)
        address = self.addresses[index]
        if index in slots:
            sock, reader, poller = slots[index]
            # A Unix socket whose runner has gone refuses the next send at once (EPIPE), and
            # call() then sends on a new connection; a TCP send would be accepted and lost, so
            # a TCP connection is checked first (one poll, which under load is one more hand-off
            # of the GIL: the local topology, on Unix sockets, does without it).
            if not address.is_tcp or _peer_alive(sock, poller):
                return sock, reader, address
            self._drop(address)  # the runner restarted since this thread's last call
        try:
            if address.is_tcp:
                sock = socket.create_connection((address.host, address.port), self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(address.path)
                except OSError:
                    sock.close()
                    raise
            _use_kernel_timeouts(sock, self.timeout)
        except OSError as exc:
            raise _unavailable(self.runner, address, exc) from exc
        reader = codec.FrameReader()
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        slots[index] = (sock, reader, poller)
        with self._lock:
            self._all_sockets.add(sock)
        if self.token is not None:
            call_id = _next_call_id()
            try:
                kind, buffers = self._exchange(
                    sock, reader, address, call_id, codec.hello(call_id, self.token)
                )
            except (TimeoutError, _StaleConnection) as exc:
                raise _unavailable(self.runner, address, exc) from None
            if kind != codec.HELLO:
                self._drop(address)
                _answer(kind, buffers, self.runner, "(handshake)")
        return sock, reader, address

    def _drop(self, address: Address) -> None:
        slots = self._local.slots
        index = self.addresses.index(address)
        sock, _, _ = slots.pop(index, (None, None, None))
        if sock is not None:
            with self._lock:
                self._all_sockets.discard(sock)
            sock.close()

    def _exchange(
        self,
        sock: socket.socket,
        reader: codec.FrameReader,
        address: Address,
        call_id: int,
        chunks: list[Any],
    ) -> tuple[int, list[memoryview]]:
        try:
            try:
                _send_all(sock, chunks)
            except (BrokenPipeError, ConnectionResetError) as exc:
                self._drop(address)
                raise _StaleConnection(str(exc)) from None
            while True:
                view = reader.get_buffer()
                received = sock.recv_into(view)
                if received == 0:
                    raise ConnectionResetError("connection closed by the runner")
                for answer_id, kind, buffers in reader.buffer_updated(received):
                    if answer_id == call_id:
                        return kind, buffers
        except (TimeoutError, BlockingIOError):
            # BlockingIOError: SO_RCVTIMEO / SO_SNDTIMEO ran out (see _use_kernel_timeouts)
            self._drop(address)
            raise TimeoutError from None
        except (OSError, codec.FrameError) as exc:
            self._drop(address)
            raise _unavailable(self.runner, address, exc) from None

    def call(self, method: str, args: tuple, kwargs: dict, waited: float = 0.0) -> Any:
        """``waited``: how long the call has already waited in this process (a batching queue)."""
        call_id = _next_call_id()
        chunks = codec.encode_call(call_id, method, args, kwargs, waited)
        try:
            kind, buffers = self._send_and_receive(call_id, chunks)
        except TimeoutError:
            raise _timeout(self.runner, method, self.timeout) from None
        return _answer(kind, buffers, self.runner, method)

    def _send_and_receive(self, call_id: int, chunks: list[Any]) -> tuple[int, list[memoryview]]:
        sock, reader, address = self._socket()
        try:
            return self._exchange(sock, reader, address, call_id, chunks)
        except _StaleConnection:
            pass  # a restarted runner (or one that hung up): once more, on a new connection
        sock, reader, address = self._socket()
        try:
            return self._exchange(sock, reader, address, call_id, chunks)
        except _StaleConnection as exc:
            raise _unavailable(self.runner, address, exc) from None

    def close(self) -> None:
        with self._lock:
            sockets, self._all_sockets = self._all_sockets, set()
        for sock in sockets:
            sock.close()


def _use_kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Leave the timeout of each send and receive to the kernel (SO_SNDTIMEO, SO_RCVTIMEO).

    With a Python-level timeout, every recv and send on the socket is preceded by a poll(): two
    system calls instead of one, and under load each one hands the GIL to another thread and
    waits to get it back. A blocking socket with kernel timeouts makes one call, and a send or
    receive that runs out of time fails with EAGAIN (BlockingIOError), read as a timeout.
    """
    sock.settimeout(None)
    micros = max(round(seconds * 1_000_000), 1)  # a zero timeval would mean no timeout at all
    timeval = struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _peer_alive(sock: socket.socket, poller: Any) -> bool:
    """False when the peer has closed the connection (a pending EOF); usually one poll().

    (A poll(0) that finds nothing costs a third of a recv with MSG_DONTWAIT, which raises.)
    """
    if not poller.poll(0):
        return True  # nothing to read: open and idle, as expected between calls
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


#: stay well below the kernel's IOV_MAX (1024 on Linux)
_MAX_IOVECS = 512


def _send_all(sock: socket.socket, chunks: list[Any]) -> None:
    """One sendmsg for the whole frame in the common case; finish partial sends chunk by chunk."""
    if len(chunks) == 1:  # a small frame: codec.frame() joined it into one piece
        sock.sendall(chunks[0])
        return
    views = [memoryview(chunk).cast("B") for chunk in chunks]
    if len(views) > _MAX_IOVECS:
        for view in views:
            sock.sendall(view)
        return
    sent = sock.sendmsg(views)
    for view in views:
        if sent >= len(view):
            sent -= len(view)
            continue
        sock.sendall(view[sent:])
        sent = 0

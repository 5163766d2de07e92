"""The blocking client of the runner protocol, for ``runner.x.run(...)`` from sync API functions.

It keeps one plain socket per thread per runner worker: a blocking send and receive in the
calling thread costs less than handing the call to the event loop and waiting for it there.
A stream (``runner.x.stream(...)``) gets a connection of its own (``client_streams.py`` says
why), closed when the stream ends or its consumer leaves it.
"""

from __future__ import annotations

import itertools
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from ..inline_greenlet import on_loop_thread, wait_readable
from . import codec
from .address import Address
from .client_streams import Credit
from .frame_reader import FrameReader
from .replies import answer, next_call_id, timed_out, unavailable, unsendable

#: seconds a worker that let a call time out is passed over while another is open
AVOID_AFTER_TIMEOUT_S = 1.0
#: on an API worker's loop thread (a sync API running inline), how long a receive may hold the
#: loop before it gives the loop back to wait (``inline_greenlet.py``): a quick runner answers
#: within it, and a probe that arrives meanwhile waits at most this long
LOOP_HOLD_S = 0.01


class _StaleConnection(Exception):
    """The runner had closed this connection before a frame went out: none of it arrived."""


class BlockingRunnerClient:
    def __init__(
        self,
        runner: str,
        addresses: Sequence[Address],
        token: bytes | None,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.runner = runner
        self.addresses = list(addresses)
        self.token = token
        self.timeout = timeout
        #: for ``tcps://`` addresses (the system's CAs when None)
        self.ssl_context = ssl_context
        self._local = threading.local()
        self._round_robin = itertools.count()
        self._index = {address: i for i, address in enumerate(self.addresses)}
        #: calls in flight to each worker from this process's threads (kept without a lock:
        #: it only steers the choice of worker)
        self._busy = [0] * len(self.addresses)
        #: a worker that let a call time out is not chosen until then (monotonic time) while
        #: another is open: it is likely stuck on a model call, and every call sent to it would
        #: wait behind that one (``AVOID_AFTER_TIMEOUT_S``; by then a stuck worker has been
        #: replaced, or the calls still waiting on it keep it the busiest)
        self._avoid_until = [0.0] * len(self.addresses)
        self._all_sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _socket(self) -> tuple[socket.socket, FrameReader, Address]:
        slots: dict[int, tuple[socket.socket, FrameReader, Any]] | None = getattr(
            self._local, "slots", None
        )
        if slots is None:
            slots = self._local.slots = {}
        index = self._pick()
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
        sock = self._open(address)
        reader = FrameReader()
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        slots[index] = (sock, reader, poller)
        with self._lock:
            self._all_sockets.add(sock)
        if self.token is not None:
            call_id = next_call_id()
            try:
                kind, buffers = self._exchange(
                    sock, reader, address, call_id, codec.hello(call_id, self.token)
                )
            except (TimeoutError, _StaleConnection) as exc:
                raise unavailable(self.runner, address, exc) from None
            if kind != codec.HELLO:
                self._drop(address)
                answer(kind, buffers, self.runner, "(handshake)")
        return sock, reader, address

    def _open(self, address: Address) -> socket.socket:
        """A new connection to ``address`` (not yet through the handshake)."""
        try:
            if address.tls:
                sock = self._tls_socket(address)
            elif address.is_tcp:
                sock = socket.create_connection((address.host, address.port), self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    # a large call (a 10,000-row frame is 640 KB) in one send, not in pieces of
                    # the default buffer each waiting for the runner to read the last
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
                    sock.settimeout(self.timeout)
                    sock.connect(address.path or "")
                except OSError:
                    sock.close()
                    raise
            if not address.tls:  # TLS reads and writes several times per call: Python's timeout
                _use_kernel_timeouts(sock, self.timeout)
        except OSError as exc:
            raise unavailable(self.runner, address, exc) from exc
        return sock

    def _tls_socket(self, address: Address) -> socket.socket:
        raw = socket.create_connection((address.host, address.port), self.timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            context = self.ssl_context or ssl.create_default_context()
            return context.wrap_socket(raw, server_hostname=address.host)
        except OSError:
            raw.close()
            raise

    def _pick(self) -> int:
        """The worker with the fewest calls in flight from this process, among those that did
        not just let a call time out; round robin among equals."""
        count = len(self.addresses)
        if count == 1:
            return 0
        start = next(self._round_robin) % count
        now = time.monotonic()
        best = -1
        for step in range(count):
            index = (start + step) % count
            if self._avoid_until[index] > now:
                continue
            if best < 0 or self._busy[index] < self._busy[best]:
                best = index
        return start if best < 0 else best

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
        reader: FrameReader,
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
            deadline = time.monotonic() + self.timeout if on_loop_thread() else None
            while True:
                view = reader.get_buffer()
                if deadline is not None:
                    _await_answer(sock, deadline)
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
            raise unavailable(self.runner, address, exc) from None

    def call(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], waited: float = 0.0
    ) -> Any:
        """``waited``: how long the call has already waited in this process (a batching queue)."""
        call_id = next_call_id()
        try:
            chunks = codec.encode_call(call_id, method, args, kwargs, waited)
        except Exception as exc:
            raise unsendable(self.runner, method, exc) from exc
        try:
            kind, buffers = self._send_and_receive(call_id, chunks)
        except TimeoutError:
            raise timed_out(self.runner, method, self.timeout) from None
        return answer(kind, buffers, self.runner, method)

    def _send_and_receive(self, call_id: int, chunks: list[Any]) -> tuple[int, list[memoryview]]:
        sock, reader, address = self._socket()
        try:
            return self._counted(sock, reader, address, call_id, chunks)
        except _StaleConnection:
            pass  # a restarted runner (or one that hung up): once more, on a new connection
        sock, reader, address = self._socket()
        try:
            return self._counted(sock, reader, address, call_id, chunks)
        except _StaleConnection as exc:
            raise unavailable(self.runner, address, exc) from None

    def _counted(
        self,
        sock: socket.socket,
        reader: FrameReader,
        address: Address,
        call_id: int,
        chunks: list[Any],
    ) -> tuple[int, list[memoryview]]:
        """``_exchange``, counted in the worker's calls in flight; a timeout sets it aside."""
        index = self._index[address]
        self._busy[index] += 1
        try:
            return self._exchange(sock, reader, address, call_id, chunks)
        except TimeoutError:
            self._avoid_until[index] = time.monotonic() + AVOID_AFTER_TIMEOUT_S
            raise
        finally:
            self._busy[index] -= 1

    def stream(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[Any]:
        """The items of a generator method as the runner yields them, on a connection of the
        stream's own. ``runners.timeout`` bounds the wait for each one; closing the iterator
        early closes the connection, and the runner then closes the generator."""
        call_id = next_call_id()
        try:
            chunks = codec.encode_stream_call(call_id, method, args, kwargs)
        except Exception as exc:
            raise unsendable(self.runner, method, exc) from exc
        index = self._pick()
        address = self.addresses[index]
        sock = self._open(address)
        frames = _Frames(sock)
        self._busy[index] += 1
        with self._lock:
            self._all_sockets.add(sock)  # close() ends the streams in progress too
        try:
            if self.token is not None:
                hello_id = next_call_id()
                _send_all(sock, codec.hello(hello_id, self.token))
                kind, buffers = frames.next()
                if kind != codec.HELLO:
                    answer(kind, buffers, self.runner, "(handshake)")
            _send_all(sock, chunks)
            credit = Credit()
            while (frame := frames.next())[0] == codec.CHUNK:
                item = codec.decode(*frame)
                if returned := credit.take():
                    _send_all(sock, codec.credit(call_id, returned))
                yield item
            if frame[0] != codec.END:
                answer(*frame, self.runner, method)  # raises the stream's error
        except (TimeoutError, BlockingIOError):
            raise timed_out(self.runner, method, self.timeout) from None
        except (OSError, codec.FrameError) as exc:
            raise unavailable(self.runner, address, exc, method) from None
        finally:
            self._busy[index] -= 1
            with self._lock:
                self._all_sockets.discard(sock)
            sock.close()

    def close(self) -> None:
        with self._lock:
            sockets, self._all_sockets = self._all_sockets, set()
        for sock in sockets:
            sock.close()


class _Frames:
    """The frames arriving on a connection that carries one stream, read as they are asked for."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = FrameReader()
        self._received: deque[tuple[int, list[memoryview]]] = deque()

    def next(self) -> tuple[int, list[memoryview]]:
        while not self._received:
            received = self._sock.recv_into(self._reader.get_buffer())
            if received == 0:
                raise ConnectionResetError("connection closed by the runner")
            for _, kind, buffers in self._reader.buffer_updated(received):
                self._received.append((kind, buffers))
        return self._received.popleft()


def _await_answer(sock: socket.socket, deadline: float) -> None:
    """On the loop thread: return once ``sock`` has something to read, holding the loop for at
    most ``LOOP_HOLD_S`` and giving it back after that; TimeoutError at ``deadline``."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return  # decrypted bytes wait in the TLS object, not in the socket
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if poller.poll(LOOP_HOLD_S * 1000):
        return
    if not wait_readable(sock.fileno(), deadline - time.monotonic()):
        raise TimeoutError


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

    (A poll(0) that finds nothing is cheaper than a recv with MSG_DONTWAIT, which raises.)
    """
    if not poller.poll(0):
        return True  # nothing to read: open and idle, as expected between calls
    if isinstance(sock, ssl.SSLSocket):
        return False  # TLS cannot peek; anything from an idle runner is its goodbye
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


#: the send buffer asked for on a Unix socket to a runner; the kernel caps it at
#: net.core.wmem_max (and doubles it for its own bookkeeping)
SEND_BUFFER = 4 * 1024 * 1024
#: stay well below the kernel's IOV_MAX (1024 on Linux)
_MAX_IOVECS = 512


def _send_all(sock: socket.socket, chunks: list[Any]) -> None:
    """One sendmsg for the whole frame in the common case; finish partial sends chunk by chunk."""
    if len(chunks) == 1:  # a small frame: codec.frame() joined it into one piece
        sock.sendall(chunks[0])
        return
    views = [memoryview(chunk).cast("B") for chunk in chunks]
    # no sendmsg on TLS; chunk by chunk rather than joined, which would copy every array once
    # more (codec.frame() has already joined the small pieces)
    if len(views) > _MAX_IOVECS or isinstance(sock, ssl.SSLSocket):
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

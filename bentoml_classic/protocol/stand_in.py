"""A thread that answers a runner worker's pings while a model call holds its event loop.

A model method that has proved quick runs on the runner worker's loop thread
(``batching/model_lane.py``). If it then hangs, the loop reads nothing until the call returns
or the worker replaces itself (``serving/stuck_model.py``): health pings go unanswered, and a
runner with one worker was 503 on every API worker's ``/readyz`` although it was only busy.
Nothing can move a call that has started off the thread it runs on.

So once an inline call has run ``STALL_AFTER_S``, this thread stands in for the loop: holding
the lane's ``inline_lock`` (the loop thread waits for it when the call returns), it polls the
worker's connections, reads what arrives into each connection's own frame reader, answers
pings at once, and keeps every other frame, in order, for the loop to handle when it is back
(``RunnerServerProtocol.replay_stashed``; frames from before the stall that the loop had not
yet handled are handled first, since the replay runs only after the loop's current work). A
call that arrives meanwhile thus waits as it did, while ``/readyz`` tells the truth: the
worker is alive and busy.

It stands in only where it can read without the loop's help: a connection that has completed
the token handshake, over plain TCP or a Unix socket (TLS keeps its state inside the loop's
transport), whose transport has nothing left to send (a pong must not overtake it).
Connections opened during the stall wait in the backlog as before; callers keep theirs open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..batching.model_lane import ModelLane
from . import codec
from .frame_reader import FrameReader
from .gathered_writes import FrameTransport

logger = logging.getLogger("bentoml_classic.runner_server")

#: an inline model call this long (seconds) has the thread stand in for the loop. Well above
#: what an inline call takes (they proved quick), well below an API worker's ping timeout
STALL_AFTER_S = 0.1
#: how often the thread looks whether the loop is held, and how long one poll of the
#: connections lasts while it stands in (the loop waits at most this long once its call returns)
CHECK_S = 0.05


class Connection(Protocol):
    """What the stand-in needs of a runner connection (``server_connection.py``)."""

    #: frames (call id, kind, buffers), bytes still to send, or the error that ended reading
    stashed: list[Any]

    def open_to_stand_in(self) -> tuple[FrameReader, FrameTransport] | None: ...

    def replay_stashed(self) -> None: ...


class StandIn:
    """The thread of one runner worker; ``start()`` once its loop serves, ``stop()`` at the end."""

    def __init__(
        self,
        lane: ModelLane,
        loop: asyncio.AbstractEventLoop,
        connections: Callable[[], Iterable[Connection]],
        stall_after_s: float = STALL_AFTER_S,
        check_s: float = CHECK_S,
    ) -> None:
        self._lane = lane
        self._loop = loop
        self._connections = connections
        self._stall_after_s = stall_after_s
        self._check_s = check_s
        self._stopped = threading.Event()
        #: pings answered while standing in (for the tests)
        self.pongs = 0

    def start(self) -> None:
        threading.Thread(target=self._run, name="stand-in", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._check_s):
            since = self._lane.inline_since
            if since is None or time.monotonic() - since < self._stall_after_s:
                continue
            logger.info(
                "a model call has held the event loop for %.1f s: pings are answered aside",
                time.monotonic() - since,
            )
            if self._stand_in_for(since):
                # A loop that closed meanwhile (the worker is exiting) has nobody to answer.
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._replay)

    def _stand_in_for(self, since: float) -> bool:
        """Serve until the loop is back from the call that started at ``since``; True if
        anything was kept for the loop."""
        kept = False
        while not self._stopped.is_set():
            with self._lane.inline_lock:
                if self._lane.inline_since != since:
                    return kept
                kept = self._serve_once() or kept
        return kept

    def _replay(self) -> None:
        """On the loop thread, back from the call: what was kept, unless read already."""
        for connection in list(self._connections()):
            if connection.stashed:
                connection.replay_stashed()

    def _serve_once(self) -> bool:
        """Poll the connections for ``CHECK_S`` and handle what arrived; True if any frame or
        byte was kept for the loop."""
        readable: dict[int, tuple[Connection, FrameReader]] = {}
        for connection in self._connections():
            opened = connection.open_to_stand_in()
            if opened is None or _ended(connection):
                continue
            fd = _plain_fd(opened[1])
            if fd is not None:
                readable[fd] = (connection, opened[0])
        if not readable:
            time.sleep(self._check_s)
            return False
        poller = select.poll()
        for fd in readable:
            poller.register(fd, select.POLLIN)
        kept = False
        for fd, _events in poller.poll(self._check_s * 1000):
            connection, reader = readable[fd]
            kept = self._read(fd, connection, reader) or kept
        return kept

    def _read(self, fd: int, connection: Connection, reader: FrameReader) -> bool:
        try:
            received = os.readv(fd, [reader.get_buffer()])
        except BlockingIOError:
            return False
        except OSError as exc:
            connection.stashed.append(exc)  # the loop meets the same error when it reads
            return True
        if received == 0:
            connection.stashed.append(EOFError())  # the loop sees the end itself
            return True
        try:
            frames = reader.buffer_updated(received)
        except codec.FrameError as exc:
            connection.stashed.append(exc)
            return True
        kept = False
        for call_id, kind, buffers in frames:
            behind = any(isinstance(item, bytes) for item in connection.stashed)
            if kind == codec.PING and not behind:
                unsent = _send(fd, b"".join(codec.empty_frame(call_id, codec.PONG)))
                if not unsent:
                    self.pongs += 1
                    continue
                item: Any = unsent  # the loop sends the rest first
            else:
                item = (call_id, kind, buffers)
            connection.stashed.append(item)
            kept = True
        return kept


def _ended(connection: Connection) -> bool:
    """Whether reading this connection has stopped: an error or its end was kept for the loop."""
    return bool(connection.stashed) and isinstance(connection.stashed[-1], BaseException)


def _plain_fd(transport: FrameTransport) -> int | None:
    """The socket under a transport that the stand-in may read and write: open, not TLS, with
    nothing of the loop's left to send."""
    if transport.is_closing() or transport.get_write_buffer_size():
        return None
    if transport.get_extra_info("sslcontext") is not None:
        return None
    sock = transport.get_extra_info("socket")
    return None if sock is None else int(sock.fileno())


def _send(fd: int, data: bytes) -> bytes:
    """Write what the socket takes now; what it did not take."""
    try:
        sent = os.write(fd, data)
    except BlockingIOError:
        sent = 0
    except OSError:
        return b""  # the connection is gone: the loop finds out when it reads
    return data[sent:]

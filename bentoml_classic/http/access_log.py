"""The access log: one line per request, written off the event loop::

    2026-12-07T10:21:06+0000 [INFO] [api_server:2] 127.0.0.1:51234 (scheme=http,method=POST,
    path=/classify,type=application/json,length=20) (status=200,type=application/json,length=3)
    0.412ms (request_id=5f1c0a9e00000007)

(one line.) Classic BentoML's fields: the client, the request (scheme, method, path, its
Content-Type and Content-Length), the response (status, Content-Type, the bytes of body sent),
the time from the request reaching the app to its last byte being handed to the server, in
milliseconds; then the request id (``X-Request-ID``, which the error lines repeat) where classic
had OpenTelemetry's ids. The path is logged without its query string, which may carry tokens,
and with control characters escaped, so a request cannot forge a log line. No body is logged.

Why it is written this way. A cheap model answers thousands of requests a second per worker,
so a line may cost a few microseconds of a request, and never a wait for the output:

- the logging module makes a record, formats a time and writes and flushes each line: a
  system call per request on the loop, which blocks when the output does;
- a tuple per request, formatted later by a thread of the worker, measured no better than
  formatting on the loop (7 to 11 µs more CPU per request in a serving worker, against 6 to
  7): the
  thread takes the GIL from the loop for each batch, each hand-over stalls the loop (a thread
  woken under ``SCHED_BATCH`` waits for a CPU), and holding each request's header lists until
  the batch was written kept the collector busy and the memory cold.

So the loop formats each line as its request ends (after the answer has been handed to the
server; one ``%`` with a template, about 3 µs in a tight loop) and keeps only the string.
``FLUSH_INTERVAL_S`` after the first line of a batch, the loop hands the lines to a writer
thread, which joins them and writes them in one write, with the GIL released while it waits.
Nothing on the loop waits for the output: while the writer is stuck on a batch, lines wait on
the loop, and past ``CAPACITY`` further ones are dropped and counted in a warning line, so a
stuck terminal costs bounded memory, never latency. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from time import perf_counter
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import AccessLogConfig
from ..log_format import LinePrefixes
from .request_id import HEADER, request_id_of
from .streaming import StreamCut

#: seconds a line may wait for the ones after it, so that they are written together
FLUSH_INTERVAL_S = 0.1
#: lines waiting to be written, at most; more than that are dropped (and counted)
CAPACITY = 10_000
#: the address logged when the server knows none (a Unix socket)
_NO_CLIENT = ("_", "_")


def _printable(text: str) -> str:
    """``text``, or with its control characters escaped (a path may carry ``%0a``, a header an
    escape sequence), so that a request cannot forge a line or move a terminal's cursor."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class AccessLog:
    """The lines of one app's requests, and the thread that writes them.

    ``record`` and the hand-over run on the event loop's thread; only the writer thread
    touches the output. ``stream`` None: ``sys.stdout`` as it is when a batch is written.
    """

    def __init__(
        self,
        config: AccessLogConfig | None = None,
        stream: TextIO | None = None,
        *,
        interval: float = FLUSH_INTERVAL_S,
        capacity: int = CAPACITY,
    ) -> None:
        config = config or AccessLogConfig()
        # a field left out still takes its argument, printed as nothing ("%.0s")
        self._template = (
            "%s:%s (scheme=%s,method=%s,path=%s"
            + (",type=%s" if config.request_content_type else "%.0s")
            + (",length=%s" if config.request_content_length else "%.0s")
            + ") (status=%d"
            + (",type=%s" if config.response_content_type else "%.0s")
            + (",length=%d" if config.response_content_length else "%.0s")
            + ") %.3fms (request_id=%s)"
        )
        self._stream = stream
        self._interval = interval
        self._capacity = capacity
        self._pending: list[str] = []
        self._dropped = 0
        self._handover_scheduled = False
        #: set while the writer has no batch: the next one may be handed over
        self._writer_free = threading.Event()
        self._writer_free.set()
        self._batches: queue.SimpleQueue[tuple[list[str], int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._prefixes = LinePrefixes("INFO")
        self._warnings = LinePrefixes("WARNING")

    def record(
        self,
        scope: Scope,
        started: float,
        status: int,
        response_headers: Any,
        size: int,
        request_id: bytes,
    ) -> None:
        """Format the line of a finished request (on the loop thread) and keep it to write."""
        elapsed = perf_counter() - started
        line = self.format(scope, elapsed, status, response_headers, size, request_id)
        if len(self._pending) < self._capacity:
            self._pending.append(line)
        else:
            self._dropped += 1
        if not self._handover_scheduled:
            self._handover_scheduled = True
            asyncio.get_running_loop().call_later(self._interval, self._hand_over)

    def format(
        self,
        scope: Scope,
        elapsed: float,
        status: int,
        response_headers: Any,
        size: int,
        request_id: bytes,
    ) -> str:
        """One line, with its newline. Written for speed (once per request, on the loop): one
        pass over each header list, one ``%`` with a template made for the configuration, and
        the line checked for control characters as a whole (escaped only if it has any)."""
        request_type = request_length = response_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                request_type = value
            elif name == b"content-length":
                request_length = value
        for name, value in response_headers:
            if name == b"content-type":
                response_type = value
                break
        client = scope.get("client") or _NO_CLIENT
        line = self._template % (
            client[0],
            client[1],
            scope["scheme"],
            scope["method"],
            scope["path"],
            request_type.decode("latin-1"),
            request_length.decode("latin-1"),
            status,
            response_type.decode("latin-1"),
            size,
            elapsed * 1e3,
            request_id.decode(),
        )
        return f"{self._prefixes.at(time.time())}{_printable(line)}\n"

    def _hand_over(self) -> None:
        """Give the waiting lines to the writer, unless it is still writing the last ones
        (then they wait one more interval, and this tries again)."""
        if not self._writer_free.is_set():
            asyncio.get_running_loop().call_later(self._interval, self._hand_over)
            return
        self._handover_scheduled = False
        batch, self._pending = self._pending, []
        dropped, self._dropped = self._dropped, 0
        self._writer_free.clear()
        self._batches.put((batch, dropped))

    # -- the writer ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (once; the app's lifespan does it)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is left (waiting up to ``timeout`` for a stuck writer) and stop the
        writer thread. Called on the loop's thread, as the app shuts down."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._writer_free.wait(timeout)
            self._batches.put(None)
            thread.join(timeout)
        while True:  # batches handed over that no writer took (none was started)
            try:
                batch = self._batches.get_nowait()
            except queue.Empty:
                break
            if batch is not None:
                self._write_batch(*batch)
        if self._pending or self._dropped:
            self._write_batch(self._pending, self._dropped)
            self._pending, self._dropped = [], 0

    def _run(self) -> None:
        while True:
            item = self._batches.get()
            if item is None:
                return
            self._write_batch(*item)
            self._writer_free.set()

    def _write_batch(self, lines: list[str], dropped: int) -> None:
        text = "".join(lines)
        if dropped:
            text += (
                f"{self._warnings.at(time.time())}{dropped} access log line(s) dropped: the "
                "output did not keep up\n"
            )
        stream = self._stream or sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken output: the lines are lost, not us
            pass


class AccessLogMiddleware:
    """The outermost layer when the access log is on: the request id (as
    ``request_id.RequestIdMiddleware``) and the access log's record, in one layer, since a
    layer of its own would cost every request another coroutine and another ``send``."""

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = request_id_of(scope)
        status = 0
        size = 0
        response_headers: Any = ()

        async def send_logged(message: Message) -> None:
            nonlocal status, size, response_headers
            if message["type"] == "http.response.start":
                response_headers = message["headers"] = [
                    *message.get("headers", ()),
                    (HEADER, request_id),
                ]
                status = message["status"]
            else:
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except StreamCut:
            return  # logged where it happened; the server closes the connection (streaming.py)
        finally:
            # nothing sent: the server answers 500 itself (uvicorn does, for an exception)
            self.access_log.record(
                scope, started, status or 500, response_headers, size, request_id
            )

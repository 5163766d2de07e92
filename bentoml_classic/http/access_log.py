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

Why it is written this way: a cheap model answers thousands of requests a second per worker,
and logging each through the logging module (a record, a formatted time, a write and a flush)
cost ~10 µs of the loop thread per request, about 5 % of the iris example's throughput. Here a
request only notes what it knows in a tuple, a microsecond or so on the loop, appended to a
bounded deque; a thread of the worker, woken when the first record of a quiet spell arrives,
waits ``FLUSH_INTERVAL_S`` for more, then formats them all and hands them to standard output
in one write. Nothing on the loop waits for stdout: if the output blocks, the records wait in
the deque, and past ``CAPACITY`` the oldest are dropped and counted in a warning line, so a
stuck terminal costs memory that is bounded, never latency. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import deque
from time import perf_counter
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import AccessLogConfig
from ..log_format import LinePrefixes
from .request_id import HEADER, request_id_of
from .streaming import StreamCut

#: seconds a record may wait for the ones after it, so that they are written together
FLUSH_INTERVAL_S = 0.1
#: records waiting to be written, at most; more than that drops the oldest
CAPACITY = 10_000

#: (sequence number, start, duration, client, scheme, method, path, request headers, status,
#: response headers, body bytes sent, request id)
Record = tuple[int, float, float, Any, str, str, str, Any, int, Any, int, bytes]


def _printable(text: str) -> str:
    """``text``, or with its control characters escaped: a path may carry ``%0a``."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _content_fields(headers: Any, with_type: bool, with_length: bool, length: str) -> str:
    """``,type=...,length=...`` as configured; ``length`` given: what is known already."""
    fields = ""
    if with_type:
        content_type = ""
        for name, value in headers:
            if name == b"content-type":
                content_type = _printable(value.decode("latin-1"))
                break
        fields += f",type={content_type}"
    if with_length:
        fields += f",length={length}"
    return fields


def _request_length(headers: Any) -> str:
    for name, value in headers:
        if name == b"content-length":
            return _printable(value.decode("latin-1"))
    return ""


class AccessLog:
    """Records of one app's requests, and the thread that writes them.

    ``stream`` None: ``sys.stdout`` as it is when a batch is written.
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
        self._request_type = config.request_content_type
        self._request_length = config.request_content_length
        self._response_type = config.response_content_type
        self._response_length = config.response_content_length
        self._stream = stream
        self._interval = interval
        self._records: deque[Record] = deque(maxlen=capacity)
        self._sequence = itertools.count()
        self._expected = 0  # the writer's next sequence number: a gap is what was dropped
        self._idle = True  # no wake-up pending: the next record sets one
        self._wake = threading.Event()
        self._closing = False
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
        """Note a finished request (on the loop thread: only references, nothing formatted)."""
        self._records.append(
            (
                next(self._sequence),
                started,
                perf_counter() - started,
                scope.get("client"),
                scope["scheme"],
                scope["method"],
                scope["path"],
                scope["headers"],
                status,
                response_headers,
                size,
                request_id,
            )
        )
        if self._idle:
            self._idle = False
            self._wake.set()

    # -- the writer ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (once; the app's lifespan does it)."""
        if self._thread is None:
            self._closing = False
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is left and stop the thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._closing = True
            self._wake.set()
            thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._closing:
                time.sleep(self._interval)  # let the records of a busy spell gather
            # Idle again before draining: a record appended from now on wakes the next round,
            # and one appended before is drained below, so none is left behind.
            self._wake.clear()
            self._idle = True
            self.flush()
            if self._closing:
                return

    def flush(self) -> None:
        """Format and write every waiting record, in one write."""
        records = self._records
        count = len(records)
        if not count:
            return
        wall_offset = time.time() - perf_counter()
        lines: list[str] = []
        dropped = 0
        for _ in range(count):
            record = records.popleft()
            dropped += record[0] - self._expected
            self._expected = record[0] + 1
            lines.append(self.format(record, wall_offset))
        if dropped:
            lines.append(
                f"{self._warnings.at(time.time())}{dropped} access log line(s) dropped: the "
                "output did not keep up\n"
            )
        self._write("".join(lines))

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken output: the lines are lost, not us
            pass

    def format(self, record: Record, wall_offset: float) -> str:
        """One line (with its newline); ``wall_offset`` turns a perf_counter into a time."""
        (_, started, elapsed, client, scheme, method, path, request_headers) = record[:8]
        status, response_headers, size, request_id = record[8:]
        address = f"{client[0]}:{client[1]}" if client else "_"
        request = f"scheme={scheme},method={method},path={_printable(path)}"
        request += _content_fields(
            request_headers,
            self._request_type,
            self._request_length,
            _request_length(request_headers) if self._request_length else "",
        )
        response = f"status={status}" + _content_fields(
            response_headers, self._response_type, self._response_length, str(size)
        )
        return (
            f"{self._prefixes.at(wall_offset + started + elapsed)}{address} ({request}) "
            f"({response}) {elapsed * 1e3:.3f}ms (request_id={request_id.decode()})\n"
        )


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

"""One connection to a runner server: frames in, runnable method calls, frames out.

One asyncio protocol per connection. On TCP, a peer presents the shared token before anything
it sends is read (``server_handshake.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from ..exceptions import BadInput
from ..metrics.meters import flush_pending
from ..metrics.registry import exposition
from . import call_batches, codec
from .frame_reader import FrameReader
from .gathered_writes import FrameTransport, GatheredWrites
from .server_answers import joined_or_alone, undecodable, unmetered_reply
from .server_handshake import HELLO_MAX_SIZE, HTTP_401, Handshake
from .server_metrics import metered_reply, metered_stream
from .server_streams import ServerStream

if TYPE_CHECKING:
    from .server import RunnerServer

logger = logging.getLogger("bentoml_classic.runner_server")


class RunnerServerProtocol(asyncio.BufferedProtocol):
    def __init__(self, server: RunnerServer) -> None:
        self._server = server
        self._handshake = Handshake(server.token, server.handshake_timeout)
        self._reader = FrameReader(
            server.max_frame_size if self._handshake.done else HELLO_MAX_SIZE
        )
        self._transport: FrameTransport | None = None
        #: streams in progress on this connection, by call id
        self._streams: dict[int, ServerStream] = {}
        #: what the stand-in read while a model call held the loop (``stand_in.py``)
        self.stashed: list[Any] = []
        #: answers joined at the turn's end, once the peer sent CALLS (``call_batches.py``)
        self._results: call_batches.GatheredResults | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one
        plain = cast(asyncio.Transport, transport)
        if self._server.gathers_writes:
            self._transport = GatheredWrites(plain, asyncio.get_running_loop())
        else:
            self._transport = plain
        self._server.connections.add(self)
        self._handshake.start(self._transport)

    def connection_lost(self, exc: Exception | None) -> None:
        for stream in list(self._streams.values()):
            stream.cancel()  # nobody is left to read it: close the generator
        self._handshake.stop()
        self._server.connections.discard(self)
        self._server.connection_closed()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._reader.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        if self.stashed:
            self.replay_stashed()  # read before these bytes
        try:
            frames = self._reader.buffer_updated(nbytes)
        except codec.FrameError as exc:
            self._refuse_garbage(exc)
            return
        for call_id, kind, buffers in frames:
            if not self._handshake.done:
                if not self._authenticate(call_id, kind, buffers):
                    return
                continue
            self._handle(call_id, kind, buffers)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def open_to_stand_in(self) -> tuple[FrameReader, FrameTransport] | None:
        """Its frame reader and transport, once the token handshake is done (``stand_in.py``)."""
        if not self._handshake.done or self._transport is None:
            return None
        return self._reader, self._transport

    def replay_stashed(self) -> None:
        """Handle, in order, what the stand-in kept while a model call held the loop."""
        stashed, self.stashed = self.stashed, []
        for item in stashed:
            if self._transport is None or self._transport.is_closing():
                return
            if isinstance(item, codec.FrameError):
                self._refuse_garbage(item)
            elif isinstance(item, bytes):
                self._transport.write(item)
            elif not isinstance(item, BaseException):  # an end the loop meets itself
                self._handle(*item)

    def _refuse_garbage(self, exc: codec.FrameError) -> None:
        assert self._transport is not None
        if not self._handshake.done:
            self._transport.write(HTTP_401)
        else:
            logger.warning("closing a runner connection that sent an invalid frame: %s", exc)
        self._transport.close()

    def _authenticate(self, call_id: int, kind: int, buffers: list[memoryview]) -> bool:
        assert self._transport is not None
        answer, admitted = self._handshake.answer(call_id, kind, buffers)
        self._transport.writelines(answer)
        if not admitted:
            self._transport.close()
            return False
        self._reader.max_frame_size = self._server.max_frame_size
        return True

    def _handle(self, call_id: int, kind: int, buffers: list[memoryview]) -> None:
        assert self._transport is not None
        if kind != codec.CALL and kind != codec.CALL_AGED:
            self._handle_other(call_id, kind, buffers)
            return
        try:
            method_name, args, kwargs, waited = codec.decode_call(kind, buffers)
        except Exception as exc:
            self._transport.writelines(undecodable(call_id, exc))
            return
        self._dispatch(call_id, method_name, args, kwargs, waited)

    def _dispatch(
        self,
        call_id: int,
        method_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        waited: float,
    ) -> None:
        """Run one call, from a CALL frame or out of a CALLS one; answer it when it is done."""
        transport = self._transport
        assert transport is not None
        server = self._server
        meter = server.meters.get(method_name)
        reply: Callable[[Any, BaseException | None], None]
        results = self._results
        if meter is None and results is None:

            def reply(result: Any, error: BaseException | None) -> None:
                if not transport.is_closing():
                    transport.writelines(server.answer(call_id, method_name, result, error))

        else:
            answer = partial(server.answer_with_status, call_id, method_name)
            if results is not None:
                answer = partial(joined_or_alone, results, call_id, answer)
            if meter is None:
                reply = partial(unmetered_reply, transport, answer)
            else:
                reply = metered_reply(meter, transport, answer)
        batcher = server.batchers.get(method_name)
        if batcher is not None:
            batcher.submit(args, kwargs, reply, waited)
        else:
            server.submit_call(method_name, args, kwargs, reply)

    def _handle_other(self, call_id: int, kind: int, buffers: list[memoryview]) -> None:
        """Every frame but a call: pings, metrics, and the frames of streams."""
        assert self._transport is not None
        if kind == codec.PING:
            self._transport.writelines(codec.empty_frame(call_id, codec.PONG))
        elif kind == codec.METRICS:
            flush_pending()
            wants_text = len(buffers) == 1 and bytes(buffers[0]) == codec.METRICS_TEXT
            text = exposition() if wants_text else b""
            self._transport.writelines(codec.encode(call_id, codec.RESULT, text))
        elif kind == codec.CALLS:
            self._handle_calls(buffers)
        elif kind == codec.STREAM:
            self._open_stream(call_id, buffers)
        elif kind == codec.CREDIT:
            stream = self._streams.get(call_id)
            if stream is not None:
                try:
                    stream.add_credit(codec.decode_credit(buffers))
                except codec.FrameError as exc:
                    self._refuse_garbage(exc)
        elif kind == codec.CANCEL:
            stream = self._streams.get(call_id)
            if stream is not None:
                stream.cancel()
        else:
            self._transport.writelines(
                codec.encode_error(call_id, "ProtocolError", f"unexpected frame kind {kind}", 400)
            )

    def _handle_calls(self, buffers: list[memoryview]) -> None:
        """A CALLS frame: each call dispatched as if it had come alone; answers joined."""
        assert self._transport is not None
        try:
            method_name, calls = call_batches.decode(buffers)
        except codec.FrameError as exc:
            self._refuse_garbage(exc)
            return
        except call_batches.Undecodable as exc:
            for call_id in exc.call_ids:
                self._transport.writelines(undecodable(call_id, exc))
            return
        if self._results is None and isinstance(self._transport, GatheredWrites):
            loop = asyncio.get_running_loop()
            self._results = call_batches.GatheredResults(self._transport, loop)
        for call_id, array in calls:
            self._dispatch(call_id, method_name, (array,), {}, 0.0)

    def _stream_ended(self, call_id: int) -> None:
        self._streams.pop(call_id, None)

    def _open_stream(self, call_id: int, buffers: list[memoryview]) -> None:
        assert self._transport is not None
        transport = self._transport
        try:
            method_name, args, kwargs = codec.decode(codec.CALL, buffers)
        except Exception as exc:
            transport.writelines(undecodable(call_id, exc))
            return
        server = self._server
        method = server.methods.get(method_name)
        if method is None or call_id in self._streams:
            error = (
                server.no_such_method(method_name)
                if method is None
                else BadInput(f"call id {call_id} already names a stream in progress")
            )
            transport.writelines(server.answer(call_id, method_name, None, error))
            return

        def send(chunks: list[Any]) -> None:
            if not transport.is_closing():
                transport.writelines(chunks)

        answer_error: Callable[[BaseException], list[Any]] = partial(
            server.answer, call_id, method_name, None
        )
        on_done: Callable[[int], None] = self._stream_ended
        meter = server.meters.get(method_name)
        if meter is not None:
            answer_error, on_done = metered_stream(meter, answer_error, on_done)
        stream = ServerStream(call_id, method_name, server.lane, send, answer_error, on_done)
        self._streams[call_id] = stream
        stream.start(method, args, kwargs)

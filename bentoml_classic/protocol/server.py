"""The server half of the runner protocol: frames in, runnable method calls, frames out.

One asyncio protocol per connection. On TCP, a peer presents the shared token before anything
it sends is read (``server_handshake.py``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from ..batching.inline_batcher import InlineBatcher, call_alone
from ..batching.model_lane import ModelLane
from ..batching.policy import BatchPolicy
from ..exceptions import BadInput, NotFound
from ..metrics.builtin import Observer
from ..metrics.meters import RequestMeter, flush_pending
from ..metrics.registry import exposition
from . import call_batches, codec
from .frame_reader import FrameReader
from .gathered_writes import FrameTransport, GatheredWrites
from .server_answers import answer_frames, joined_or_alone, undecodable, unmetered_reply
from .server_handshake import HANDSHAKE_TIMEOUT_S, HELLO_MAX_SIZE, HTTP_401, Handshake
from .server_metrics import metered_reply, metered_stream
from .server_streams import ServerStream
from .stand_in import StandIn

logger = logging.getLogger("bentoml_classic.runner_server")

#: after a stop, how long no caller must have held a connection before listening ends
QUIET_S = 0.5


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


class RunnerServer:
    """Serves one runnable instance on whatever sockets it is given."""

    def __init__(
        self,
        runner_name: str,
        methods: dict[str, Callable[..., Any]],
        *,
        token: bytes | None = None,
        max_frame_size: int = codec.MAX_FRAME_SIZE,
        batch_policies: dict[str, BatchPolicy] | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
        meters: Mapping[str, RequestMeter] | None = None,
        batch_sizes: Mapping[str, Observer] | None = None,
    ) -> None:
        """``meters``: by method, where its calls are counted (``bentoml_runner_request_*``);
        ``batch_sizes``: by batchable method, where its batches' rows are recorded. None or a
        method left out: not measured."""
        self.runner_name = runner_name
        self.methods = methods
        self.meters = dict(meters or {})
        self.batch_sizes = dict(batch_sizes or {})
        self.batch_policies = dict(batch_policies or {})
        #: one per batchable method; built in serve(), where the event loop is known
        self.batchers: dict[str, InlineBatcher] = {}
        #: where the model runs (one job at a time); also built in serve()
        self.lane: ModelLane
        self.token = token
        self.max_frame_size = max_frame_size
        self.handshake_timeout = handshake_timeout
        #: TLS on TCP sockets (``tcps://``); None: plain
        self.ssl_context = ssl_context
        self.connections: set[RunnerServerProtocol] = set()
        #: whether the frames a loop turn writes to a connection leave together
        #: (``gathered_writes.py``): for a server that answers calls one by one
        self.gathers_writes = False
        self._all_closed: asyncio.Event | None = None

    def submit_call(
        self,
        method_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        reply: Callable[[Any, Any], None],
    ) -> None:
        """Run one unbatched call in the lane; ``reply(result, error)`` answers it."""
        method = self.methods.get(method_name)
        if method is None:
            reply(None, self.no_such_method(method_name))
            return
        work = (partial(call_alone, method, args, kwargs), lambda outcome: reply(*outcome))
        self.lane.submit(method_name, lambda: work)

    def no_such_method(self, method_name: str) -> NotFound:
        return NotFound(f"runner {self.runner_name!r} has no method {method_name!r}")

    def answer(
        self, call_id: int, method_name: str, result: Any, error: BaseException | None
    ) -> list[Any]:
        """The frame that answers a call with its result, or with its error."""
        return self.answer_with_status(call_id, method_name, result, error)[0]

    def answer_with_status(
        self, call_id: int, method_name: str, result: Any, error: BaseException | None
    ) -> tuple[list[Any], int]:
        """``answer()``, and the HTTP status it stands for (the metrics' response code)."""
        return answer_frames(self.runner_name, call_id, method_name, result, error)

    async def _until_quiet(self, deadline: float) -> None:
        """Return once no connection has been open for ``QUIET_S``, or at ``deadline``."""
        loop = asyncio.get_running_loop()
        quiet_since: float | None = None
        while (now := loop.time()) < deadline:
            if self.connections:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_S:
                return
            await asyncio.sleep(QUIET_S / 10)

    def _tls_for(self, sock: Any) -> ssl.SSLContext | None:
        family = getattr(sock, "family", None)
        return self.ssl_context if family in (socket.AF_INET, socket.AF_INET6) else None

    @property
    def busy_since(self) -> float | None:
        """``time.monotonic()`` when the model call running now started; None while idle."""
        lane = self.__dict__.get("lane")
        return None if lane is None else lane.busy_since

    def connection_closed(self) -> None:
        if not self.connections and self._all_closed is not None:
            self._all_closed.set()

    async def serve(
        self, sockets: list[Any], stop: asyncio.Event, grace_seconds: float, backlog: int = 2048
    ) -> None:
        """Serve until ``stop`` is set, then drain for at most ``grace_seconds``.

        ``backlog``: asyncio listens on each socket again, and this replaces the backlog the
        supervisor bound it with (asyncio's own default is 100).

        Draining API workers still need us, and may open new connections to us (a pool thread's
        first call): while any caller holds a connection, and until none has for
        ``QUIET_S``, new connections are still accepted. In production the listening sockets
        stay bound in the supervisor, so a listener closed too early would leave a caller
        waiting in its backlog until ``runners.timeout``. The supervisor stops the API workers
        first; a signal to every process at once (a Ctrl-C, systemd's stop, a supervisor killed
        with SIGKILL) reaches us while they drain, which is what the quiet period is for.
        """
        loop = asyncio.get_running_loop()
        self.lane = ModelLane(loop)
        stand_in = StandIn(self.lane, loop, lambda: list(self.connections))
        stand_in.start()
        self.batchers = {
            name: InlineBatcher(
                self.methods[name],
                policy,
                loop.call_soon,
                histogram=self.batch_sizes.get(name),
                lane=self.lane,
                name=name,
            )
            for name, policy in self.batch_policies.items()
            if name in self.methods
        }
        servers = [
            await loop.create_server(
                lambda: RunnerServerProtocol(self),
                sock=sock,
                ssl=self._tls_for(sock),
                backlog=backlog,
            )
            for sock in sockets
        ]
        await stop.wait()
        deadline = loop.time() + grace_seconds
        await self._until_quiet(deadline)
        for server in servers:
            server.close()
        self._all_closed = asyncio.Event()
        if self.connections:
            try:
                await asyncio.wait_for(self._all_closed.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                logger.warning(
                    "closing %d runner connections after the grace period", len(self.connections)
                )
        for connection in list(self.connections):
            connection.close()
        stand_in.stop()
        self.lane.close()

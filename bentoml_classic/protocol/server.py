"""The server half of the runner protocol: one runnable instance served on the sockets it is given.

``RunnerServer`` holds what its connections share (the methods, the model lane and batchers the
calls run in, the meters) and listens until it is stopped, then drains. Each connection is an
asyncio protocol of its own (``server_connection.py``): frames in, method calls, frames out.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ..batching.inline_batcher import InlineBatcher, call_alone
from ..batching.model_lane import ModelLane
from ..batching.policy import BatchPolicy
from ..exceptions import NotFound
from ..metrics.builtin import Observer
from ..metrics.meters import RequestMeter
from . import codec
from .server_answers import answer_frames
from .server_connection import RunnerServerProtocol
from .server_handshake import HANDSHAKE_TIMEOUT_S
from .stand_in import StandIn

logger = logging.getLogger("bentoml_classic.runner_server")

#: after a stop, how long no caller must have held a connection before listening ends
QUIET_S = 0.5


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

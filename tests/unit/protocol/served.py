"""A ``RunnerServer`` on its own event loop in a background thread (as it runs in its own process
in production, so that a slow runner method blocks the server and not the client under test),
and clients pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np

from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.exceptions import (
    BadInput,
)
from bentoml_classic.protocol.address import Address
from bentoml_classic.protocol.async_client import AsyncRunnerClient
from bentoml_classic.protocol.blocking_client import BlockingRunnerClient
from bentoml_classic.protocol.server import RunnerServer
from tests.support.waiting import WAIT

TOKEN = b"s3cret-runner-token"


# -- a RunnerServer in a background thread ---------------------------------------------------


class ServedRunner:
    """A RunnerServer serving one listening socket on an event loop in a background thread."""

    def __init__(
        self,
        transport: str,
        socket_dir: pathlib.Path,
        *,
        token: bytes | None = None,
        grace_seconds: float = 5.0,
        batch_policies: dict[str, BatchPolicy] | None = None,
        handshake_timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        meters: dict[str, Any] | None = None,
        batch_sizes: dict[str, Any] | None = None,
    ) -> None:
        self.transport = transport
        self.token = token
        self.grace_seconds = grace_seconds
        self.path = str(socket_dir / "runner.sock")
        self.port = 0
        self.release = threading.Event()  # lets a blocked method go on
        self.started = threading.Event()  # set by methods that block, once they run
        self.calls: list[str] = []
        self.batch_rows: list[int] = []  # rows of each batch gated_double ran
        self.produced = 0  # items the endless streams have yielded
        self.closed_streams: list[str] = []  # streams whose generator was closed (finally ran)
        self.server = RunnerServer(
            "test_runner",
            self._methods(),
            token=token,
            batch_policies=batch_policies,
            handshake_timeout=handshake_timeout,
            ssl_context=ssl_context,
            meters=meters,
            batch_sizes=batch_sizes,
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    # the runnable's methods
    def _methods(self) -> dict[str, Callable[..., Any]]:
        def echo(value: Any) -> Any:
            self.calls.append("echo")
            return value

        def add(a: Any, b: Any = 0) -> Any:
            return a + b

        def fail(message: str) -> None:
            raise ValueError(message)

        def bad_input(message: str) -> None:
            raise BadInput(message)

        def block(value: Any) -> Any:
            self.started.set()
            self.release.wait(WAIT)
            return value

        def slow(value: Any, seconds: float = 0.5) -> Any:
            self.started.set()
            time.sleep(seconds)
            return value

        def die(value: Any) -> Any:
            """The worker goes away while this call is in flight (models run on the lane's
            thread until they prove quick, so the connections are closed from the loop)."""

            def close_all() -> None:
                for connection in list(self.server.connections):
                    connection.close()

            self.in_loop(close_all)
            return value

        def unpicklable() -> Any:
            return threading.Lock()

        def gated_double(x: np.ndarray) -> np.ndarray:
            """Batchable when given a policy; holds the model until ``release`` is set."""
            self.batch_rows.append(len(x))
            self.started.set()
            self.release.wait(WAIT)
            return x * 2

        def count(n: int) -> Iterator[int]:
            yield from range(n)

        async def acount(n: int) -> AsyncIterator[int]:
            for i in range(n):
                await asyncio.sleep(0)
                yield i

        def count_then_fail(n: int) -> Iterator[int]:
            yield from range(n)
            raise ValueError(f"failed after {n}")

        async def acount_then_fail(n: int) -> AsyncIterator[int]:
            for i in range(n):
                yield i
            raise ValueError(f"failed after {n}")

        def gated(n: int) -> Iterator[int]:
            """Yields 0, then each next item once ``release`` is set (and clears it)."""
            try:
                for i in range(n):
                    if i:
                        assert self.release.wait(WAIT)
                        self.release.clear()
                    yield i
            except GeneratorExit:
                self.closed_streams.append("gated")
                raise

        def endless(label: str) -> Iterator[int]:
            try:
                while True:
                    self.produced += 1
                    yield self.produced
            finally:
                self.closed_streams.append(label)

        async def aendless(label: str) -> AsyncIterator[int]:
            try:
                while True:
                    self.produced += 1
                    yield self.produced
                    await asyncio.sleep(0)
            finally:
                self.closed_streams.append(label)

        def arrays(n: int) -> Iterator[np.ndarray]:
            for i in range(n):
                yield np.full((2, 3), i, dtype=np.float32)

        def unsendable_items() -> Iterator[Any]:
            try:
                yield 1
                yield threading.Lock()
                yield 2
            finally:
                self.closed_streams.append("unsendable_items")

        return {
            "count": count,
            "acount": acount,
            "count_then_fail": count_then_fail,
            "acount_then_fail": acount_then_fail,
            "gated": gated,
            "endless": endless,
            "aendless": aendless,
            "arrays": arrays,
            "unsendable_items": unsendable_items,
            "echo": echo,
            "add": add,
            "fail": fail,
            "bad_input": bad_input,
            "block": block,
            "slow": slow,
            "die": die,
            "unpicklable": unpicklable,
            "gated_double": gated_double,
        }

    @property
    def url(self) -> str:
        if self.transport == "unix":
            return f"file://{self.path}"
        scheme = "tcp" if self.server.ssl_context is None else "tcps"
        return f"{scheme}://localhost:{self.port}"

    def _bind(self) -> socket.socket:
        if self.transport == "unix":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(self.path)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            self.port = sock.getsockname()[1]
        sock.listen(128)
        return sock

    def start(self) -> None:
        assert self._thread is None
        sock = self._bind()
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready.set()
            await self.server.serve([sock], self._stop, self.grace_seconds)

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # reported by stop()
                self._error = exc
            finally:
                sock.close()
                ready.set()

        self._thread = threading.Thread(target=run, name="runner-server", daemon=True)
        self._thread.start()
        assert ready.wait(WAIT)
        assert self._error is None, self._error

    def request_stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)

    def join(self, timeout: float = WAIT) -> bool:
        """Wait for ``serve`` to return; True when it did."""
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        if self._thread is None:
            return
        self.release.set()
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                self.request_stop()
        # connections still open are closed after the grace period at the latest
        assert self.join(self.grace_seconds + WAIT), "the runner server did not stop"
        self._thread = None
        self._loop = None
        self.release.clear()
        self.started.clear()
        if self._error is not None:
            raise self._error

    def in_loop(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` on the server's loop and return its result."""
        assert self._loop is not None

        async def call() -> Any:
            return func()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(WAIT)


def async_client(
    url: str, *, token: bytes | None = None, timeout: float = WAIT
) -> AsyncRunnerClient:
    return AsyncRunnerClient("test_runner", [Address.parse(url)], token, timeout)


@contextlib.contextmanager
def blocking_client(
    url: str, *, token: bytes | None = None, timeout: float = WAIT
) -> Iterator[BlockingRunnerClient]:
    client = BlockingRunnerClient("test_runner", [Address.parse(url)], token, timeout)
    try:
        yield client
    finally:
        client.close()


def run_async(coro_func: Callable[[AsyncRunnerClient], Any], client: AsyncRunnerClient) -> Any:
    """Run ``coro_func(client)`` on a fresh loop on this thread, closing the client after."""

    async def main() -> Any:
        try:
            return await asyncio.wait_for(coro_func(client), 3 * WAIT)
        finally:
            client.close()

    return asyncio.run(main())

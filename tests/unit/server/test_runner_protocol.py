"""The runner protocol over real sockets: RunnerServer against both clients, tokens, shutdown,
batching, metrics.

The server runs on its own event loop in a background thread (as it runs in its own process in
production), so that a slow runner method blocks the server and not the client under test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import os
import pathlib
import pickle
import socket
import struct
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic import metrics
from bentoml_classic.exceptions import (
    BadInput,
    GatewayTimeout,
    InvalidArgument,
    RunnerError,
    ServiceUnavailable,
)
from bentoml_classic.runner import Runnable, Runner, codec
from bentoml_classic.runner.batching import BatchPolicy
from bentoml_classic.runner.client import (
    Address,
    AsyncRunnerClient,
    BlockingRunnerClient,
)
from bentoml_classic.runner.remote import RemoteRunnerHandle
from bentoml_classic.server.errors import error_response
from bentoml_classic.server.http_app import render_metrics
from bentoml_classic.server.runner_server import RunnerServer

TOKEN = b"s3cret-runner-token"
WAIT = 10.0  # generous bound for anything that should happen "soon"


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
        self.server = RunnerServer(
            "test_runner", self._methods(), token=token, batch_policies=batch_policies
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

        return {
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
        return f"tcp://127.0.0.1:{self.port}"

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


@pytest.fixture
def socket_dir(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    # AF_UNIX paths are limited to ~107 bytes; pytest's tmp_path can be longer
    if len(str(tmp_path / "runner.sock")) < 100:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="rs") as short:
        yield pathlib.Path(short)


@pytest.fixture
def make_runner(socket_dir: pathlib.Path) -> Iterator[Callable[..., ServedRunner]]:
    runners: list[ServedRunner] = []

    def make(transport: str, **options: Any) -> ServedRunner:
        runner = ServedRunner(transport, socket_dir / str(len(runners)), **options)
        (socket_dir / str(len(runners))).mkdir()
        runners.append(runner)
        runner.start()
        return runner

    try:
        yield make
    finally:
        for runner in runners:
            runner.stop()


@pytest.fixture(params=["unix", "tcp"])
def runner(
    request: pytest.FixtureRequest, make_runner: Callable[..., ServedRunner]
) -> ServedRunner:
    return make_runner(request.param)


@pytest.fixture(params=["unix", "tcp"])
def quick_runner(
    request: pytest.FixtureRequest, make_runner: Callable[..., ServedRunner]
) -> ServedRunner:
    """A runner that closes idle client connections 0.2 s after it is told to stop."""
    return make_runner(request.param, grace_seconds=0.2)


@pytest.fixture
def tcp_runner(make_runner: Callable[..., ServedRunner]) -> ServedRunner:
    return make_runner("tcp", token=TOKEN)


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


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# -- Address ---------------------------------------------------------------------------------


def test_address_parse() -> None:
    unix = Address.parse("file:///tmp/runner.sock")
    assert (unix.path, unix.is_tcp) == ("/tmp/runner.sock", False)
    tcp = Address.parse("tcp://10.0.0.5:3001")
    assert (tcp.host, tcp.port, tcp.is_tcp) == ("10.0.0.5", 3001, True)
    ipv6 = Address.parse("tcp://[::1]:4000")
    assert (ipv6.host, ipv6.port) == ("::1", 4000)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:3000", "tcp://127.0.0.1", "tcp://:3000", "file://", "runner.sock"]
)
def test_address_parse_refuses(url: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid runner address"):
        Address.parse(url)


# -- calls through both clients --------------------------------------------------------------


def test_async_results(runner: ServedRunner) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return [
            await client.call("echo", ("hello",), {}),
            await client.call("add", (2,), {"b": 40}),
            await client.call("echo", (array,), {}),
            await client.call("echo", ({"nested": (1, [2, None])},), {}),
        ]

    text, total, received, nested = run_async(scenario, async_client(runner.url))
    assert text == "hello"
    assert total == 42
    np.testing.assert_array_equal(received, array)
    assert received.dtype == np.float32
    assert received.flags.writeable
    assert nested == {"nested": (1, [2, None])}


def test_blocking_results(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        assert client.call("echo", ("hello",), {}) == "hello"
        assert client.call("add", (2,), {"b": 40}) == 42
        array = np.arange(6, dtype=np.int64)
        received = client.call("echo", (array,), {})
        np.testing.assert_array_equal(received, array)
        assert received.flags.writeable


def test_large_arrays_both_ways(runner: ServedRunner) -> None:
    array = np.random.default_rng(0).standard_normal((300, 1000))  # 2.4 MB each way

    async def scenario(client: AsyncRunnerClient) -> Any:
        return await client.call("echo", (array,), {})

    np.testing.assert_array_equal(run_async(scenario, async_client(runner.url)), array)
    with blocking_client(runner.url) as client:
        received = client.call("echo", (array,), {})
    np.testing.assert_array_equal(received, array)
    assert received.flags.writeable


def _check_value_error(error: RunnerError) -> None:
    assert "ValueError" in str(error)
    assert "bad things" in str(error)
    assert error.detail["exception"] == "ValueError"
    assert error.detail["method"] == "fail"
    assert error.http_status == 500


def test_remote_exception(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(RunnerError) as caught:
            await client.call("fail", ("bad things",), {})
        _check_value_error(caught.value)
        assert await client.call("echo", (1,), {}) == 1  # the connection is still usable

    run_async(scenario, async_client(runner.url))
    with blocking_client(runner.url) as client:
        with pytest.raises(RunnerError) as caught:
            client.call("fail", ("bad things",), {})
        _check_value_error(caught.value)
        assert client.call("echo", (2,), {}) == 2


def test_remote_bad_input_keeps_its_status(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> RunnerError:
        with pytest.raises(RunnerError) as caught:
            await client.call("bad_input", ("no good",), {})
        return caught.value

    error = run_async(scenario, async_client(runner.url))
    assert error.http_status == 400
    assert error.detail["exception"] == "BadInput"
    assert "no good" in str(error)
    with blocking_client(runner.url) as client, pytest.raises(RunnerError) as caught:
        client.call("bad_input", ("no good",), {})
    assert caught.value.http_status == 400
    assert caught.value.detail["exception"] == "BadInput"


def test_unknown_method(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> RunnerError:
        with pytest.raises(RunnerError) as caught:
            await client.call("no_such_method", (), {})
        return caught.value

    error = run_async(scenario, async_client(runner.url))
    assert error.http_status == 404
    assert "no_such_method" in str(error)
    with blocking_client(runner.url) as client, pytest.raises(RunnerError) as caught:
        client.call("no_such_method", (), {})
    assert caught.value.http_status == 404


def test_result_that_cannot_be_sent_back(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        with pytest.raises(RunnerError) as caught:
            client.call("unpicklable", (), {})
        assert caught.value.http_status == 500
        assert "unpicklable" in str(caught.value)
        assert client.call("echo", (3,), {}) == 3


def test_concurrent_async_calls_share_one_connection(runner: ServedRunner) -> None:
    values = [np.full(3, i) if i % 3 == 0 else f"value-{i}" for i in range(60)]

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        results = await asyncio.gather(*(client.call("echo", (v,), {}) for v in values))
        # all of them over one connection
        count = await asyncio.to_thread(runner.in_loop, lambda: len(runner.server.connections))
        assert count == 1
        return results

    results = run_async(scenario, async_client(runner.url))
    for got, sent in zip(results, values, strict=True):
        if isinstance(sent, np.ndarray):
            np.testing.assert_array_equal(got, sent)
        else:
            assert got == sent
    assert runner.calls.count("echo") == len(values)


def test_blocking_client_from_many_threads(runner: ServedRunner) -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    with blocking_client(runner.url) as client:

        def work(n: int) -> None:
            try:
                for i in range(10):
                    results[n * 100 + i] = client.call("add", (n * 100, i), {})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    assert not errors
    assert results == {key: key for key in range(800) if key % 100 < 10}


def test_answers_out_of_order_reach_their_callers(socket_dir: pathlib.Path) -> None:
    """A peer that answers the calls of one connection in reverse order."""
    count = 8

    handlers: list[asyncio.Task[None]] = []

    async def answer_in_reverse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            frames: list[tuple[int, int, list[memoryview]]] = []
            frame_reader = codec.FrameReader()
            while len(frames) < count:
                data = await reader.read(65536)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    buffer = frame_reader.get_buffer(-1)
                    n = min(len(buffer), len(view))
                    buffer[:n] = view[:n]
                    frames += frame_reader.buffer_updated(n)
                    view = view[n:]
            for call_id, kind, buffers in reversed(frames):
                assert kind == codec.CALL
                method, args, _ = codec.decode(kind, buffers)
                writer.writelines(codec.encode(call_id, codec.RESULT, (method, args[0] * 10)))
                await writer.drain()
            await reader.read()  # until the client goes
        finally:
            writer.close()

    async def main() -> list[Any]:
        server = await asyncio.start_server(answer_in_reverse, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = async_client(f"tcp://127.0.0.1:{port}")
        try:
            return await asyncio.wait_for(
                asyncio.gather(*(client.call("m", (i,), {}) for i in range(count))), WAIT
            )
        finally:
            client.close()
            await asyncio.wait_for(asyncio.gather(*handlers), WAIT)
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) == [("m", i * 10) for i in range(count)]


def test_async_timeout(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(GatewayTimeout) as caught:
            await client.call("block", ("late",), {})
        assert caught.value.http_status == 504
        assert caught.value.detail["method"] == "block"
        runner.release.set()
        # the late answer is dropped, not handed to the next caller
        client.timeout = WAIT
        assert await client.call("echo", ("next",), {}) == "next"

    run_async(scenario, async_client(runner.url, timeout=0.3))
    assert runner.started.is_set()


def test_blocking_timeout(runner: ServedRunner) -> None:
    with blocking_client(runner.url, timeout=0.3) as client:
        with pytest.raises(GatewayTimeout) as caught:
            client.call("block", ("late",), {})
        assert caught.value.http_status == 504
        runner.release.set()
        client.timeout = WAIT
        assert client.call("echo", ("next",), {}) == "next"


def test_blocking_client_leaves_its_timeouts_to_the_kernel(runner: ServedRunner) -> None:
    # A Python-level socket timeout polls before every send and receive (two system calls, each
    # a GIL hand-off under load); the kernel's SO_RCVTIMEO/SO_SNDTIMEO cost nothing extra.
    with blocking_client(runner.url, timeout=2.5) as client:
        assert client.call("echo", ("x",), {}) == "x"
        (sock,) = client._all_sockets
        assert sock.gettimeout() is None
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            seconds, micros = struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, option, 16))
            assert seconds + micros / 1e6 == pytest.approx(2.5, abs=0.01)


def test_blocking_timeout_is_kept_to(runner: ServedRunner) -> None:
    with blocking_client(runner.url, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(GatewayTimeout):
            client.call("block", ("late",), {})
        waited = time.monotonic() - started
        runner.release.set()
    # at least the timeout; the upper bound is loose for a loaded machine, but far below "forever"
    assert 0.29 <= waited < 0.3 + WAIT


def test_async_connection_lost_mid_call(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        assert await client.call("echo", (1,), {}) == 1
        with pytest.raises(ServiceUnavailable) as caught:
            await client.call("die", (2,), {})
        assert caught.value.http_status == 503
        # the runner itself is still there: the next call reconnects
        assert await client.call("echo", (3,), {}) == 3

    run_async(scenario, async_client(runner.url))


def test_blocking_connection_lost_mid_call(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        assert client.call("echo", (1,), {}) == 1
        with pytest.raises(ServiceUnavailable):
            client.call("die", (2,), {})
        assert client.call("echo", (3,), {}) == 3


def test_async_runner_down_and_back(quick_runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        assert await client.call("echo", ("before",), {}) == "before"
        await asyncio.to_thread(runner.stop)
        with pytest.raises(ServiceUnavailable) as caught:
            await client.call("echo", ("while down",), {})
        assert "test_runner" in str(caught.value)
        assert not await client.ping(1.0)
        await asyncio.to_thread(runner.start)
        assert await client.call("echo", ("after",), {}) == "after"
        assert await client.ping(WAIT)

    runner = quick_runner  # the client keeps its connection: it is closed 0.2 s after stop
    run_async(scenario, async_client(runner.url))


def test_blocking_runner_down_then_call_fails_cleanly(quick_runner: ServedRunner) -> None:
    runner = quick_runner
    with blocking_client(runner.url) as client:
        assert client.call("echo", ("before",), {}) == "before"
        runner.stop()
        with pytest.raises(ServiceUnavailable):
            client.call("echo", ("while down",), {})
        runner.start()
        assert client.call("echo", ("after",), {}) == "after"


# Regression test (a bug, fixed since): BlockingRunnerClient keeps a thread's socket after the
# runner closed it and only notices on the next call, which then fails with 503 although the runner
# is back (client.py, BlockingRunnerClient._socket/_exchange): the first call of every thread after
# a runner restart fails. A cached socket whose peer has gone should be replaced before the call is
# sent.
def test_blocking_client_recovers_after_runner_restart(quick_runner: ServedRunner) -> None:
    runner = quick_runner
    with blocking_client(runner.url) as client:
        assert client.call("echo", ("before",), {}) == "before"
        runner.stop()
        runner.start()
        assert client.call("echo", ("after",), {}) == "after"


def test_ping(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> bool:
        return await client.ping(WAIT)

    assert run_async(scenario, async_client(runner.url)) is True


def test_ping_nobody_listening(socket_dir: pathlib.Path) -> None:
    async def scenario(client: AsyncRunnerClient) -> bool:
        return await client.ping(WAIT)

    url = f"file://{socket_dir}/nobody.sock"
    assert run_async(scenario, async_client(url)) is False


def test_nobody_listening_is_service_unavailable(socket_dir: pathlib.Path) -> None:
    url = f"file://{socket_dir}/nobody.sock"

    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(ServiceUnavailable, match="unavailable"):
            await client.call("echo", (1,), {})

    run_async(scenario, async_client(url))
    with blocking_client(url) as client, pytest.raises(ServiceUnavailable):
        client.call("echo", (1,), {})


def test_several_workers(make_runner: Callable[..., ServedRunner]) -> None:
    first, second = make_runner("unix"), make_runner("tcp")
    addresses = [Address.parse(first.url), Address.parse(second.url)]

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return await asyncio.gather(*(client.call("echo", (i,), {}) for i in range(20)))

    client = AsyncRunnerClient("test_runner", addresses, None, WAIT)
    assert run_async(scenario, client) == list(range(20))
    blocking = BlockingRunnerClient("test_runner", addresses, None, WAIT)
    try:
        assert [blocking.call("echo", (i,), {}) for i in range(6)] == list(range(6))
    finally:
        blocking.close()
    # both workers got work
    assert first.calls and second.calls
    assert len(first.calls) + len(second.calls) == 26


# -- the shared token on TCP -----------------------------------------------------------------


def test_right_token(tcp_runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> Any:
        assert await client.ping(WAIT)
        return await client.call("add", (1, 2), {})

    assert run_async(scenario, async_client(tcp_runner.url, token=TOKEN)) == 3
    with blocking_client(tcp_runner.url, token=TOKEN) as client:
        assert client.call("add", (3, 4), {}) == 7


@pytest.mark.parametrize("token", [b"wrong", None, b""])
def test_wrong_or_missing_token(tcp_runner: ServedRunner, token: bytes | None) -> None:
    async def scenario(client: AsyncRunnerClient) -> ServiceUnavailable:
        with pytest.raises(ServiceUnavailable) as caught:
            await client.call("echo", (1,), {})
        return caught.value

    error = run_async(scenario, async_client(tcp_runner.url, token=token))
    assert "BENTOML_RUNNER_TOKEN" in str(error)
    with blocking_client(tcp_runner.url, token=token) as client:
        with pytest.raises(ServiceUnavailable) as caught:
            client.call("echo", (1,), {})
        assert "BENTOML_RUNNER_TOKEN" in str(caught.value)
    assert tcp_runner.calls == []


def wire(chunks: list[Any]) -> bytes:
    return b"".join(bytes(memoryview(chunk).cast("B")) for chunk in chunks)


def _connect(runner: ServedRunner) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", runner.port), timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_http_peer_gets_a_401(tcp_runner: ServedRunner) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: runner\r\n\r\n")
        response = _read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 401")
    assert b"content-length:" in response.lower()


class _TouchOnUnpickle:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (pathlib.Path.touch, (self.path,))


def _read_frames(sock: socket.socket) -> list[tuple[int, int, list[memoryview]]]:
    reader = codec.FrameReader()
    frames = []
    while True:
        buffer = reader.get_buffer(-1)
        received = sock.recv_into(buffer)
        if not received:
            return frames
        frames += reader.buffer_updated(received)


def test_call_before_hello_is_never_unpickled(
    tcp_runner: ServedRunner, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(("echo", (_TouchOnUnpickle(marker),), {}), protocol=5)
    pickle.loads(pickle.dumps(_TouchOnUnpickle(tmp_path / "probe")))  # the trap works...
    assert (tmp_path / "probe").exists()
    with _connect(tcp_runner) as sock:
        sock.sendall(wire(codec.frame(11, codec.CALL, [payload])))
        frames = _read_frames(sock)
    assert len(frames) == 1
    call_id, kind, buffers = frames[0]
    assert (call_id, kind) == (11, codec.ERROR)
    assert codec.decode_error(buffers)["status"] == 401
    assert not marker.exists()  # ...but the server never reached the unpickler
    assert tcp_runner.calls == []


def test_wrong_hello_then_call_in_one_packet(
    tcp_runner: ServedRunner, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(("echo", (_TouchOnUnpickle(marker),), {}), protocol=5)
    data = wire(codec.frame(1, codec.HELLO, [b"not the token"])) + wire(
        codec.frame(2, codec.CALL, [payload])
    )
    with _connect(tcp_runner) as sock:
        sock.sendall(data)
        frames = _read_frames(sock)
    assert [(call_id, kind) for call_id, kind, _ in frames] == [(1, codec.ERROR)]
    assert codec.decode_error(frames[0][2])["status"] == 401
    assert not marker.exists()


def test_hello_then_call_on_a_raw_socket(tcp_runner: ServedRunner) -> None:
    """The handshake as documented: HELLO with the token and the protocol version, answered
    HELLO, then calls."""
    with _connect(tcp_runner) as sock:
        sock.sendall(wire(codec.frame(5, codec.HELLO, [TOKEN, codec.PROTOCOL_VERSION])))
        reader = codec.FrameReader()
        frames: list[tuple[int, int, list[memoryview]]] = []
        while not frames:
            frames += reader.buffer_updated(sock.recv_into(reader.get_buffer(-1)))
        assert [(call_id, kind) for call_id, kind, _ in frames] == [(5, codec.HELLO)]
        sock.sendall(wire(codec.encode(6, codec.CALL, ("add", (5, 6), {}))))
        frames = []
        while not frames:
            frames += reader.buffer_updated(sock.recv_into(reader.get_buffer(-1)))
        [(call_id, kind, buffers)] = frames
        assert (call_id, kind, codec.decode(kind, buffers)) == (6, codec.RESULT, 11)


@pytest.mark.parametrize(
    ("buffers", "named"),
    [
        ([TOKEN], "(none: an older release)"),
        ([TOKEN, b"bentoml_classic-runner/1"], "bentoml_classic-runner/1"),
    ],
)
def test_a_caller_speaking_another_protocol_is_told_so(
    tcp_runner: ServedRunner, buffers: list[bytes], named: str
) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(wire(codec.frame(3, codec.HELLO, buffers)))
        frames = _read_frames(sock)
    [(call_id, kind, answer)] = frames
    assert (call_id, kind) == (3, codec.ERROR)
    error = codec.decode_error(answer)
    assert error["type"] == "ProtocolMismatch"
    assert named in error["message"]
    assert codec.PROTOCOL_VERSION.decode() in error["message"]
    assert "same bentoml_classic" in error["message"]


def test_both_clients_report_a_protocol_mismatch_by_name(
    tcp_runner: ServedRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hello_from_the_future(call_id: int, token: bytes) -> list[Any]:
        return codec.frame(call_id, codec.HELLO, [token, b"bentoml_classic-runner/99"])

    monkeypatch.setattr(codec, "hello", hello_from_the_future)
    with blocking_client(tcp_runner.url, token=TOKEN) as client, pytest.raises(RunnerError) as sync:
        client.call("echo", (1,), {})

    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(RunnerError) as caught:
            await client.call("echo", (1,), {})
        assert "bentoml_classic-runner/99" in caught.value.message

    run_async(scenario, async_client(tcp_runner.url, token=TOKEN))
    assert sync.value.http_status == 500
    assert sync.value.detail["exception"] == "ProtocolMismatch"
    assert "bentoml_classic-runner/99" in sync.value.message
    assert "same bentoml_classic" in sync.value.message


def test_the_protocol_is_checked_only_after_the_token(tcp_runner: ServedRunner) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(wire(codec.frame(4, codec.HELLO, [b"wrong", b"other/9"])))
        [(_, kind, answer)] = _read_frames(sock)
    assert kind == codec.ERROR
    assert codec.decode_error(answer)["status"] == 401


@pytest.mark.parametrize("size", [4097, 50_000_000, 2**32 - 1])
def test_oversized_first_frame_is_refused(tcp_runner: ServedRunner, size: int) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(codec.HEADER.pack(size, 1, codec.HELLO, 1) + codec.BUFFER_LENGTH.pack(5))
        response = _read_until_closed(sock)  # the server hangs up, without waiting for more
    assert not response or response.startswith(b"HTTP/1.1 401")
    # and goes on serving everyone else
    with blocking_client(tcp_runner.url, token=TOKEN) as client:
        assert client.call("echo", ("still here",), {}) == "still here"


def test_frames_above_max_frame_size_close_the_connection(
    make_runner: Callable[..., ServedRunner],
) -> None:
    served = make_runner("unix")
    served.server.max_frame_size = 10_000
    with blocking_client(served.url) as client:
        with pytest.raises(ServiceUnavailable):
            client.call("echo", (b"x" * 20_000,), {})
        assert client.call("echo", (b"y" * 1000,), {}) == b"y" * 1000


# -- graceful stop ---------------------------------------------------------------------------


def _refused(runner: ServedRunner) -> bool:
    try:
        if runner.transport == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(runner.path)
        else:
            socket.create_connection(("127.0.0.1", runner.port), timeout=WAIT).close()
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    return False


def test_graceful_stop_finishes_the_call_in_flight(runner: ServedRunner) -> None:
    client = BlockingRunnerClient("test_runner", [Address.parse(runner.url)], None, WAIT)
    # one thread, so that both calls below use the same connection
    caller = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        in_flight = caller.submit(client.call, "slow", ("done",), {"seconds": 0.5})
        assert runner.started.wait(WAIT)
        runner.request_stop()
        assert in_flight.result(WAIT) == "done"
        assert wait_for(lambda: _refused(runner)), "new connections are still accepted"
        with blocking_client(runner.url) as late, pytest.raises(ServiceUnavailable):
            late.call("echo", (1,), {})
        # the open connection is served while the server drains ...
        assert caller.submit(client.call, "echo", ("draining",), {}).result(WAIT) == "draining"
        assert runner.join(0.05) is False  # ... and keeps it waiting
    finally:
        client.close()
        caller.shutdown()
    # once the last client went away, serve() returns well before its grace period
    assert runner.join(WAIT)


def test_graceful_stop_async_call_in_flight(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        assert await client.call("echo", ("warm",), {}) == "warm"
        pending = asyncio.ensure_future(client.call("slow", ("done",), {"seconds": 0.5}))
        assert await asyncio.to_thread(runner.started.wait, WAIT)
        runner.request_stop()
        assert await pending == "done"
        assert await asyncio.to_thread(wait_for, lambda: _refused(runner))

    run_async(scenario, async_client(runner.url))
    assert runner.join(WAIT)


def test_grace_period_expires(make_runner: Callable[..., ServedRunner]) -> None:
    served = make_runner("tcp", grace_seconds=0.2)
    with blocking_client(served.url) as client:
        assert client.call("echo", (1,), {}) == 1
        served.request_stop()
        # the client keeps its connection, but the server does not wait past the grace period
        assert served.join(WAIT)
        with pytest.raises(ServiceUnavailable):
            client.call("echo", (2,), {})


# -- a peer that is not a (working) runner ---------------------------------------------------


@contextlib.contextmanager
def hanging_up_peer(
    unix_path: pathlib.Path | None = None, accepted: list[int] | None = None
) -> Iterator[str]:
    """A listener (TCP, or Unix at ``unix_path``) that accepts connections and closes them at
    once, counting them in ``accepted``."""
    if unix_path is None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        url = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    else:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(unix_path))
        url = f"file://{unix_path}"
    listener.listen(16)
    listener.settimeout(0.05)
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if accepted is not None:
                accepted.append(1)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        done.set()
        thread.join(WAIT)
        listener.close()


@contextlib.contextmanager
def silent_peer() -> Iterator[str]:
    """A TCP listener that never accepts: connections complete in its backlog, nobody answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_peer_hangs_up_without_token() -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(ServiceUnavailable):
            await client.call("echo", (1,), {})

    with hanging_up_peer() as url:
        run_async(scenario, async_client(url))
        with blocking_client(url) as client, pytest.raises(ServiceUnavailable):
            client.call("echo", (1,), {})


def test_blocking_client_gives_up_on_a_unix_peer_that_always_hangs_up(
    socket_dir: pathlib.Path,
) -> None:
    # On a Unix socket a send to a closed peer fails at once and is retried on a new connection,
    # once: a peer that hangs up on every connection gets a 503, not a loop.
    accepted: list[int] = []
    with (
        hanging_up_peer(socket_dir / "hangs-up.sock", accepted) as url,
        blocking_client(url) as client,
    ):
        for _ in range(3):
            with pytest.raises(ServiceUnavailable):
                client.call("echo", (1,), {})
    assert len(accepted) <= 6  # at most one retry per call (the listener may not count them all)


# Regression test (a bug, fixed since): when the connection is lost during the token handshake,
# AsyncRunnerClient.call raises the private client._ConnectionLost instead of ServiceUnavailable
# (client.py, AsyncRunnerClient._hello awaits the HELLO future outside call()'s `except
# _ConnectionLost`).
def test_async_peer_hangs_up_during_handshake() -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(ServiceUnavailable):
            await client.call("echo", (1,), {})

    with hanging_up_peer() as url:
        run_async(scenario, async_client(url, token=TOKEN))


def test_blocking_peer_hangs_up_during_handshake() -> None:
    with (
        hanging_up_peer() as url,
        blocking_client(url, token=TOKEN) as client,
        pytest.raises(ServiceUnavailable),
    ):
        client.call("echo", (1,), {})


def test_silent_peer_times_out() -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(GatewayTimeout):
            await client.call("echo", (1,), {})

    with silent_peer() as url:
        run_async(scenario, async_client(url, timeout=0.3))
        with blocking_client(url, timeout=0.3) as client, pytest.raises(GatewayTimeout):
            client.call("echo", (1,), {})


# Regression test (a bug, fixed since): a runner that accepts the connection but does not answer the
# token handshake in time makes both clients raise the builtin TimeoutError instead of
# GatewayTimeout/ServiceUnavailable (client.py, AsyncRunnerClient._hello's asyncio.wait_for and
# BlockingRunnerClient._socket's _exchange of the HELLO frame are outside the `except TimeoutError`
# of call()).
@pytest.mark.parametrize("kind", ["async", "blocking"])
def test_silent_peer_during_handshake(kind: str) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises((GatewayTimeout, ServiceUnavailable)):
            await client.call("echo", (1,), {})

    with silent_peer() as url:
        if kind == "async":
            run_async(scenario, async_client(url, token=TOKEN, timeout=0.3))
        else:
            with (
                blocking_client(url, token=TOKEN, timeout=0.3) as client,
                pytest.raises((GatewayTimeout, ServiceUnavailable)),
            ):
                client.call("echo", (1,), {})


# -- RemoteRunnerHandle ----------------------------------------------------------------------


class EchoRunnable(Runnable):
    @Runnable.method
    def echo(self, value: Any) -> Any:
        raise AssertionError("runs in the runner server, never here")

    @Runnable.method
    def add(self, a: Any, b: Any = 0) -> Any:
        raise AssertionError("runs in the runner server, never here")


@contextlib.contextmanager
def remote_runner(url: str, token: bytes | None = None) -> Iterator[Runner]:
    runner = Runner(EchoRunnable, name="test_runner")
    runner._set_handle(RemoteRunnerHandle("test_runner", [url], token=token, timeout=WAIT))
    try:
        yield runner
    finally:
        runner.destroy()


def test_remote_handle_sync_and_async(runner: ServedRunner) -> None:
    with remote_runner(runner.url) as remote:
        assert remote.echo.run("x") == "x"
        assert remote.add.run(1, b=2) == 3

        async def scenario() -> tuple[Any, bool]:
            handle = remote._handle
            assert isinstance(handle, RemoteRunnerHandle)
            try:
                return await remote.add.async_run(20, 22), await handle.is_ready(WAIT)
            finally:
                handle._async.close()  # its connections belong to this loop

        assert asyncio.run(scenario()) == (42, True)
        with pytest.raises(RunnerError) as caught:
            remote.add.run("a", b=1)
        assert caught.value.detail["exception"] == "TypeError"


def test_remote_handle_with_token(tcp_runner: ServedRunner) -> None:
    with remote_runner(tcp_runner.url, token=TOKEN) as remote:
        assert remote.echo.run(np.arange(3)).tolist() == [0, 1, 2]
    with (
        remote_runner(tcp_runner.url, token=b"nope") as remote,
        pytest.raises(ServiceUnavailable, match="BENTOML_RUNNER_TOKEN"),
    ):
        remote.echo.run(1)


def test_remote_handle_not_ready(socket_dir: pathlib.Path) -> None:
    handle = RemoteRunnerHandle("test_runner", [f"file://{socket_dir}/nobody.sock"])
    try:
        assert asyncio.run(handle.is_ready(1.0)) is False
    finally:
        handle.close()


def test_remote_handle_refuses_bad_addresses() -> None:
    with pytest.raises(InvalidArgument):
        RemoteRunnerHandle("test_runner", ["http://127.0.0.1:1"])
    with pytest.raises(InvalidArgument):
        RemoteRunnerHandle("test_runner", [])


def test_remote_handle_warns_once_about_run_on_the_event_loop(
    runner: ServedRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with remote_runner(runner.url) as remote:
        assert remote.echo.run(1) == 1
        assert not caplog.records

        async def scenario() -> list[Any]:
            return [remote.echo.run(2), remote.echo.run(3)]

        with caplog.at_level(logging.WARNING, logger="bentoml_classic.runner.remote"):
            assert asyncio.run(scenario()) == [2, 3]
    warnings = [r for r in caplog.records if "async_run" in r.getMessage()]
    assert len(warnings) == 1
    assert "test_runner.echo" in warnings[0].getMessage()


@pytest.mark.parametrize("token", [b"wrong", None])
def test_ping_with_wrong_or_missing_token(tcp_runner: ServedRunner, token: bytes | None) -> None:
    async def scenario(client: AsyncRunnerClient) -> bool:
        return await client.ping(WAIT)

    assert run_async(scenario, async_client(tcp_runner.url, token=token)) is False
    assert run_async(scenario, async_client(tcp_runner.url, token=TOKEN)) is True


# -- frames the server cannot use ------------------------------------------------------------


def _fail_on_unpickle() -> None:
    raise ValueError("cannot rebuild this argument")


class _ExplodesOnUnpickle:
    def __reduce__(self) -> Any:
        return (_fail_on_unpickle, ())


def test_call_that_cannot_be_unpickled(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        with pytest.raises(RunnerError) as caught:
            client.call("echo", (_ExplodesOnUnpickle(),), {})
        assert caught.value.http_status == 400
        assert "cannot rebuild this argument" in str(caught.value)
        assert runner.calls == []
        assert client.call("echo", ("fine",), {}) == "fine"


def _raw_exchange(
    served: ServedRunner, sent: list[bytes], count: int
) -> list[tuple[int, int, list[memoryview]]]:
    """Send ``sent`` (whole frames) on a fresh Unix connection; read ``count`` frames back."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT)
        sock.connect(served.path)
        for data in sent:
            sock.sendall(data)
        reader = codec.FrameReader()
        frames: list[tuple[int, int, list[memoryview]]] = []
        while len(frames) < count:
            received = sock.recv_into(reader.get_buffer(-1))
            assert received, "the server hung up"
            frames += reader.buffer_updated(received)
    return frames


def test_unexpected_frame_kind(make_runner: Callable[..., ServedRunner]) -> None:
    served = make_runner("unix")
    sent = [
        wire(codec.encode(3, codec.RESULT, "not a call")),
        wire(codec.frame(4, codec.PING, [b""])),
    ]
    frames = _raw_exchange(served, sent, 2)
    assert [(call_id, kind) for call_id, kind, _ in frames] == [(3, codec.ERROR), (4, codec.PONG)]
    assert codec.decode_error(frames[0][2])["status"] == 400


# BUG: BlockingRunnerClient._socket creates the AF_UNIX socket, and when connect() fails (runner
# down) raises ServiceUnavailable without closing it (client.py, the `except OSError` after
# sock.connect): the descriptor is only released by the garbage collector, with a
# ResourceWarning, once per failed call.
def test_failed_unix_connect_closes_its_socket(socket_dir: pathlib.Path) -> None:
    url = f"file://{socket_dir}/nobody.sock"
    gc.collect()  # what earlier tests left behind is not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with blocking_client(url) as client:
            for _ in range(3):
                with pytest.raises(ServiceUnavailable):
                    client.call("echo", (1,), {})
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- adaptive batching in the runner server --------------------------------------------------


@pytest.fixture
def fresh_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty batch-size registry: a server started after this one records only its own."""
    monkeypatch.setattr(metrics, "_batch_sizes", {})


def rows_of(i: int) -> np.ndarray:
    """Call i sends 1 or 2 rows whose values tell callers apart."""
    rows = 1 + i % 2
    return np.arange(2 * rows, dtype=np.float64).reshape(rows, 2) + 100 * i


async def _all_on_the_wire(client: AsyncRunnerClient, count: int) -> None:
    """Until ``count`` calls are sent and the client's transport holds nothing back."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        connection = client._connections[0]
        if (
            connection is not None
            and connection.transport is not None
            and len(connection.pending) >= count
            and connection.transport.get_write_buffer_size() == 0
        ):
            break
        assert loop.time() < deadline, "the calls never left the client"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # margin for the loopback to hand the bytes over


async def _gated_calls(
    served: ServedRunner, client: AsyncRunnerClient, count: int, answered_early: int = 0
) -> list[Any]:
    """Call gated_double ``count`` times: the first call holds the model until all the others
    are on the wire (and ``answered_early`` of them answered without the model), so the server
    has queued them all when it is released."""
    first = asyncio.ensure_future(client.call("gated_double", (rows_of(0),), {}))
    assert await asyncio.to_thread(served.started.wait, WAIT)
    rest = [
        asyncio.ensure_future(client.call("gated_double", (rows_of(i),), {}))
        for i in range(1, count)
    ]
    if answered_early:
        # the server's loop is not held by the model: it answers what it can at once
        deadline = asyncio.get_running_loop().time() + WAIT
        while sum(call.done() for call in rest) < answered_early:
            assert asyncio.get_running_loop().time() < deadline, "no early answers"
            await asyncio.sleep(0.005)
        assert not first.done()
    else:
        await _all_on_the_wire(client, count)
    served.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_batched_calls_are_answered_in_order_and_counted(
    fresh_metrics: None, make_runner: Callable[..., ServedRunner], transport: str
) -> None:
    served = make_runner(transport, batch_policies={"gated_double": BatchPolicy(max_batch_size=4)})
    count = 7

    async def scenario(client: AsyncRunnerClient) -> tuple[list[Any], list[Any]]:
        results = await _gated_calls(served, client, count)
        return results, await client.metrics(WAIT)

    results, snapshots = run_async(scenario, async_client(served.url))
    for i, result in enumerate(results):
        assert isinstance(result, np.ndarray), result
        np.testing.assert_array_equal(result, rows_of(i) * 2)
        assert result.shape == rows_of(i).shape
    # call 0 ran alone; calls 1-6 (2, 1, 2, 1, 2, 1 rows) were queued together and joined in
    # arrival order into batches of at most 4 rows: [2, 1], then 2 more would make 5
    assert served.batch_rows == [1, 3, 3, 3]
    [[snapshot]] = snapshots  # one worker, one batchable method
    assert (snapshot["runner"], snapshot["method"]) == ("test_runner", "gated_double")
    histogram = metrics.Histogram.from_snapshot(snapshot)
    assert (histogram.count, histogram.total) == (4, 10)
    assert histogram.counts[:4] == [1, 0, 3, 0]  # le=1, le=2, le=4, le=8


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_time_a_call_waited_in_the_api_worker_counts_in_the_runner(
    make_runner: Callable[..., ServedRunner], transport: str
) -> None:
    # max_latency_ms bounds both queues together: a batch that already waited most of it in
    # an API worker's queue has only the rest left in the runner's.
    policy = BatchPolicy(max_batch_size=4, max_latency_s=1.0)
    served = make_runner(transport, batch_policies={"gated_double": policy})
    served.release.set()
    with blocking_client(served.url) as client:
        with pytest.raises(ServiceUnavailable, match="max_latency_ms of 1000") as caught:
            client.call("gated_double", (rows_of(1),), {}, waited=1.5)
        assert "waited 15" in str(caught.value)  # 1,500 ms and the few of the hop
        assert served.batch_rows == []  # it never ran
        result = client.call("gated_double", (rows_of(2),), {}, waited=0.25)
    np.testing.assert_array_equal(result, rows_of(2) * 2)
    assert served.batch_rows == [len(rows_of(2))]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_full_queue_sheds_calls_as_503_and_the_server_keeps_serving(
    fresh_metrics: None, make_runner: Callable[..., ServedRunner], transport: str
) -> None:
    policy = BatchPolicy(max_batch_size=2, max_queue_rows=2)
    served = make_runner(transport, batch_policies={"gated_double": policy})

    async def scenario(client: AsyncRunnerClient) -> tuple[Any, ...]:
        # the four calls that find the queue full are answered while the model still runs
        results = await _gated_calls(served, client, 6, answered_early=4)
        after = await client.call("gated_double", (rows_of(1),), {})
        return results, after, await client.ping(WAIT), await client.metrics(WAIT)

    results, after, alive, snapshots = run_async(scenario, async_client(served.url))
    # call 0 ran at once; call 1 (2 rows) filled the queue; calls 2-5 found it full
    for i in (0, 1):
        np.testing.assert_array_equal(results[i], rows_of(i) * 2)
    for shed in results[2:]:
        assert type(shed) is ServiceUnavailable, shed  # not a RunnerError (500)
        assert shed.http_status == 503
        assert shed.retry_after == 1
        assert "queue is full" in shed.message
        assert shed.detail == {"runner": "test_runner", "method": "gated_double"}
        response = error_response(shed)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
    np.testing.assert_array_equal(after, rows_of(1) * 2)
    assert alive is True
    assert served.batch_rows == [1, 2, 2]  # shed calls never reached the method
    histogram = metrics.Histogram.from_snapshot(snapshots[0][0])
    assert (histogram.count, histogram.total) == (3, 5)


def test_batching_leaves_other_methods_alone_and_ignores_unknown_names(
    fresh_metrics: None, make_runner: Callable[..., ServedRunner]
) -> None:
    policy = BatchPolicy(max_batch_size=2)
    served = make_runner("unix", batch_policies={"gated_double": policy, "no_such_method": policy})
    served.release.set()
    assert sorted(served.in_loop(lambda: list(served.server.batchers))) == ["gated_double"]

    async def scenario(client: AsyncRunnerClient) -> tuple[Any, ...]:
        echoed = await client.call("echo", ("plain",), {})
        doubled = await client.call("gated_double", (rows_of(3),), {})
        return echoed, doubled, await client.metrics(WAIT)

    echoed, doubled, snapshots = run_async(scenario, async_client(served.url))
    assert echoed == "plain"
    np.testing.assert_array_equal(doubled, rows_of(3) * 2)
    assert [(s["method"], s["count"]) for s in snapshots[0]] == [("gated_double", 1)]


def test_metrics_without_batchable_methods_is_an_empty_snapshot(
    fresh_metrics: None, runner: ServedRunner
) -> None:
    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return await client.metrics(WAIT)

    assert run_async(scenario, async_client(runner.url)) == [[]]


def test_metrics_of_a_worker_that_is_down_is_none(
    fresh_metrics: None, make_runner: Callable[..., ServedRunner], socket_dir: pathlib.Path
) -> None:
    served = make_runner("unix", batch_policies={"gated_double": BatchPolicy(max_batch_size=2)})
    served.release.set()
    addresses = [Address.parse(f"file://{socket_dir}/nobody.sock"), Address.parse(served.url)]

    async def call(client: AsyncRunnerClient) -> Any:
        return await client.call("gated_double", (rows_of(0),), {})

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return await client.metrics(1.0)

    run_async(call, async_client(served.url))
    down, up = run_async(scenario, AsyncRunnerClient("test_runner", addresses, None, WAIT))
    assert down is None
    assert [(s["method"], s["count"], s["total"]) for s in up] == [("gated_double", 1, 1.0)]


@pytest.mark.parametrize("token", [b"wrong", None])
def test_metrics_need_the_token(tcp_runner: ServedRunner, token: bytes | None) -> None:
    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return await client.metrics(WAIT)

    assert run_async(scenario, async_client(tcp_runner.url, token=token)) == [None]
    assert run_async(scenario, async_client(tcp_runner.url, token=TOKEN)) != [None]


def test_malformed_array_frame_is_refused_and_the_connection_stays(
    make_runner: Callable[..., ServedRunner],
) -> None:
    served = make_runner("unix")
    sent = [
        # the frame itself is sound; the array header claims 3 int32 over 8 bytes
        wire(codec.frame(21, codec.CALL, [b"\xa7echo\n<i4:3", b"\0" * 8])),
        wire(codec.encode(22, codec.CALL, ("echo", (np.arange(3),), {}))),
    ]
    frames = _raw_exchange(served, sent, 2)
    assert [(call_id, kind) for call_id, kind, _ in frames] == [
        (21, codec.ERROR),
        (22, codec.RESULT),
    ]
    error = codec.decode_error(frames[0][2])
    assert (error["type"], error["status"]) == ("FrameError", 400)
    np.testing.assert_array_equal(codec.decode(codec.RESULT, frames[1][2]), np.arange(3))
    assert served.calls == ["echo"]  # only the sound call reached the method


class GatedRunnable(Runnable):
    @Runnable.method(batchable=True)
    def gated_double(self, x: Any) -> Any:
        raise AssertionError("runs in the runner server, never here")


def test_render_metrics_labels_each_remote_worker(
    fresh_metrics: None, make_runner: Callable[..., ServedRunner], socket_dir: pathlib.Path
) -> None:
    served = make_runner("unix", batch_policies={"gated_double": BatchPolicy(max_batch_size=4)})
    served.release.set()

    async def calls(client: AsyncRunnerClient) -> None:
        for i in range(3):
            await client.call("gated_double", (rows_of(i),), {})

    run_async(calls, async_client(served.url))
    runner = Runner(GatedRunnable, name="test_runner")
    # worker 1 is down, worker 2 is the served one
    handle = RemoteRunnerHandle(
        "test_runner", [f"file://{socket_dir}/nobody.sock", served.url], timeout=WAIT
    )
    runner._set_handle(handle)
    svc = bentoml.Service("metered", runners=[runner])

    async def render() -> str:
        try:
            return await render_metrics(svc)
        finally:
            handle._async.close()  # its connections belong to this loop

    try:
        text = asyncio.run(render())
    finally:
        runner.destroy()
    labels = 'runner="test_runner",method="gated_double",worker="2"'
    assert f"bentoml_runner_batch_size_count{{{labels}}} 3\n" in text
    assert f"bentoml_runner_batch_size_sum{{{labels}}} 4\n" in text  # 1 + 2 + 1 rows
    assert f'bentoml_runner_batch_size_bucket{{{labels},le="1"}} 2\n' in text
    assert f'bentoml_runner_batch_size_bucket{{{labels},le="2"}} 3\n' in text
    assert 'worker="1"' not in text  # a worker that is down has no series

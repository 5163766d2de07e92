"""Both runner clients against a real ``RunnerServer``: addresses, results and errors, timeouts,
lost connections, restarts, several workers, and peers that are not (working) runners."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from bentoml_classic.exceptions import (
    GatewayTimeout,
    InvalidArgument,
    RunnerError,
    ServiceUnavailable,
)
from bentoml_classic.protocol import codec
from bentoml_classic.protocol.address import Address
from bentoml_classic.protocol.async_client import AsyncRunnerClient
from bentoml_classic.protocol.blocking_client import BlockingRunnerClient
from bentoml_classic.protocol.frame_reader import FrameReader
from tests.support.waiting import WAIT
from tests.unit.protocol.served import (
    TOKEN,
    ServedRunner,
    async_client,
    blocking_client,
    run_async,
)

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
            frame_reader = FrameReader()
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

    async def scenario(client: AsyncRunnerClient) -> ServiceUnavailable:
        with pytest.raises(ServiceUnavailable, match="unavailable") as caught:
            await client.call("echo", (1,), {})
        return caught.value

    errors = [run_async(scenario, async_client(url))]
    with blocking_client(url) as client, pytest.raises(ServiceUnavailable) as caught:
        client.call("echo", (1,), {})
    errors.append(caught.value)
    for error in errors:
        # what a client sees names the runner, never the private socket path (nor, in it, the
        # supervisor's pid)
        body = str(error.to_payload())
        assert "test_runner" in body
        assert str(socket_dir) not in body and "nobody.sock" not in body


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


def test_a_worker_that_let_a_call_time_out_is_passed_over(
    make_runner: Callable[..., ServedRunner],
) -> None:
    stuck, free = make_runner("unix"), make_runner("unix")
    addresses = [Address.parse(stuck.url), Address.parse(free.url)]
    blocking = BlockingRunnerClient("test_runner", addresses, None, 0.3)
    try:
        with pytest.raises(GatewayTimeout):  # lands on one worker or the other
            blocking.call("slow", ("x",), {"seconds": 3})
        hung = stuck if stuck.started.is_set() else free
        other = free if hung is stuck else stuck
        answered = [blocking.call("echo", (i,), {}) for i in range(10)]
    finally:
        blocking.close()
        stuck.release.set()
    assert answered == list(range(10))
    assert other.calls.count("echo") == 10 and "echo" not in hung.calls


def test_the_async_client_sends_new_calls_past_a_worker_with_a_call_timed_out(
    make_runner: Callable[..., ServedRunner],
) -> None:
    first, second = make_runner("unix"), make_runner("unix")
    addresses = [Address.parse(first.url), Address.parse(second.url)]

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        with pytest.raises(GatewayTimeout):
            await client.call("slow", ("x",), {"seconds": 3})
        return [await client.call("echo", (i,), {}) for i in range(10)]

    assert run_async(scenario, AsyncRunnerClient("test_runner", addresses, None, 0.3)) == list(
        range(10)
    )
    hung, other = (first, second) if first.started.is_set() else (second, first)
    assert other.calls.count("echo") == 10 and "echo" not in hung.calls


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


def test_ping_needs_every_worker_once_then_one_that_answers(
    make_runner: Callable[..., ServedRunner],
) -> None:
    first, second = make_runner("unix"), make_runner("unix")
    addresses = [Address.parse(first.url), Address.parse(second.url)]

    async def scenario(client: AsyncRunnerClient) -> tuple[bool, bool]:
        ready = await client.ping(WAIT)
        await asyncio.to_thread(second.stop)  # one worker gone (stuck, restarting)
        return ready, await client.ping(1.0)

    assert run_async(scenario, AsyncRunnerClient("test_runner", addresses, None, WAIT)) == (
        True,
        True,
    )

    async def fresh(client: AsyncRunnerClient) -> bool:
        return await client.ping(1.0)

    # a client that never heard from the second worker does not call the runner ready yet
    assert run_async(fresh, AsyncRunnerClient("test_runner", addresses, None, WAIT)) is False

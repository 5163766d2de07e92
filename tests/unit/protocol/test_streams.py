"""Streams over the runner protocol: both clients against a real ``RunnerServer``.

Items arrive as the generator yields them, an error after some items raises after them, a
consumer that leaves early closes the generator, and a slow consumer holds the generator back
(``codec.STREAM_WINDOW`` chunks ahead at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import numpy as np
import pytest

from bentoml_classic.exceptions import GatewayTimeout, RunnerError, ServiceUnavailable
from bentoml_classic.protocol import codec
from bentoml_classic.protocol.async_client import AsyncRunnerClient
from tests.support.waiting import WAIT, settle, wait_until
from tests.unit.protocol.served import TOKEN, ServedRunner, async_client, blocking_client, run_async


def streams_in_progress(runner: ServedRunner) -> int:
    """Streams the runner still serves: a cancelled one is gone once the runner has seen it."""
    return sum(len(connection._streams) for connection in list(runner.server.connections))


def collect(runner: ServedRunner, method: str, *args: Any, token: bytes | None = None) -> list[Any]:
    async def main(client: AsyncRunnerClient) -> list[Any]:
        return [item async for item in client.stream(method, args, {})]

    return run_async(main, async_client(runner.url, token=token))  # type: ignore[no-any-return]


@pytest.mark.parametrize("method", ["count", "acount"])
def test_both_clients_get_every_item_in_order(runner: ServedRunner, method: str) -> None:
    # more items than the window: credit has to come back for the rest
    n = 3 * codec.STREAM_WINDOW + 1
    assert collect(runner, method, n) == list(range(n))
    with blocking_client(runner.url) as client:
        assert list(client.stream(method, (n,), {})) == list(range(n))
        assert list(client.stream(method, (0,), {})) == []
        assert client.call("add", (2, 3), {}) == 5  # the thread's own connection is unaffected


def test_streams_over_tcp_present_the_token(tcp_runner: ServedRunner) -> None:
    assert collect(tcp_runner, "count", 3, token=TOKEN) == [0, 1, 2]
    with blocking_client(tcp_runner.url, token=TOKEN) as client:
        assert list(client.stream("acount", (3,), {})) == [0, 1, 2]
    with (
        blocking_client(tcp_runner.url, token=b"wrong") as client,
        pytest.raises(ServiceUnavailable, match="wrong or missing BENTOML_RUNNER_TOKEN"),
    ):
        list(client.stream("count", (3,), {}))


def test_arrays_travel_as_chunks(runner: ServedRunner) -> None:
    items = collect(runner, "arrays", 3)
    assert [item.tolist() for item in items] == [np.full((2, 3), i).tolist() for i in range(3)]
    assert all(item.dtype == np.float32 for item in items)


@pytest.mark.parametrize("method", ["count_then_fail", "acount_then_fail"])
def test_an_error_mid_stream_raises_after_the_items(runner: ServedRunner, method: str) -> None:
    received: list[int] = []

    async def main(client: AsyncRunnerClient) -> None:
        async for item in client.stream(method, (2,), {}):
            received.append(item)

    with pytest.raises(RunnerError, match="raised ValueError: failed after 2") as info:
        run_async(main, async_client(runner.url))
    assert received == [0, 1]
    assert info.value.detail["exception"] == "ValueError"
    received.clear()
    with blocking_client(runner.url) as client, pytest.raises(RunnerError, match="failed after 2"):
        for item in client.stream(method, (2,), {}):
            received.append(item)
    assert received == [0, 1]


def test_items_are_delivered_as_they_are_produced(runner: ServedRunner) -> None:
    """The generator yields its second item only once the consumer has the first."""
    with blocking_client(runner.url) as client:
        stream = client.stream("gated", (3,), {})
        assert next(stream) == 0
        runner.release.set()
        assert next(stream) == 1
        runner.release.set()
        assert list(stream) == [2]

    async def main(client: AsyncRunnerClient) -> list[int]:
        received = []
        async for item in client.stream("gated", (2,), {}):
            received.append(item)
            runner.release.set()
        return received

    assert run_async(main, async_client(runner.url)) == [0, 1]


def test_leaving_early_closes_the_generator(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        for _ in client.stream("endless", ("blocking",), {}):
            break  # the for loop drops the generator: it closes, and so does its connection
        wait_until(lambda: runner.closed_streams == ["blocking"], "the generator was closed")

    async def main(client: AsyncRunnerClient) -> None:
        for method in ("endless", "aendless"):
            async with contextlib.aclosing(client.stream(method, (method,), {})) as stream:
                async for _ in stream:
                    break
        # dropped without aclose(): the async generator's finalizer closes it
        async for _ in client.stream("endless", ("dropped",), {}):
            break
        await settle(lambda: len(runner.closed_streams) == 4, "every generator was closed")
        assert await client.call("add", (1, 1), {}) == 2  # the shared connection still serves

    run_async(main, async_client(runner.url))
    # (in any order: an async generator is closed by its task, a sync one by a lane job)
    assert sorted(runner.closed_streams) == ["aendless", "blocking", "dropped", "endless"]


def test_a_cancelled_consumer_closes_the_generator(runner: ServedRunner) -> None:
    async def main(client: AsyncRunnerClient) -> None:
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in client.stream("gated", (5,), {}):
                started.set()  # then waits for an item that only comes when released

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(started.wait(), WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # released before the runner had the CANCEL, the generator would just run to its end
        await settle(lambda: streams_in_progress(runner) == 0, "the runner saw the CANCEL")
        runner.release.set()  # the step in the lane finishes; the generator is then closed
        await settle(lambda: runner.closed_streams == ["gated"], "the generator was closed")
        assert await client.call("add", (1, 2), {}) == 3

    run_async(main, async_client(runner.url))


@pytest.mark.parametrize("method", ["endless", "aendless"])
def test_a_slow_consumer_holds_the_generator_back(runner: ServedRunner, method: str) -> None:
    window = codec.STREAM_WINDOW

    async def main(client: AsyncRunnerClient) -> None:
        stream = client.stream(method, (method,), {})
        assert await anext(stream) == 1
        await settle(lambda: runner.produced >= window, "the window was sent")
        # A call answered after that: the runner has had every chance to run further
        assert await client.call("add", (0, 0), {}) == 0
        assert runner.produced == window
        for expected in range(2, codec.CREDIT_EVERY + 1):
            assert await anext(stream) == expected
        # the consumer has taken CREDIT_EVERY items: that much credit went back
        await settle(lambda: runner.produced >= window + codec.CREDIT_EVERY, "credit came back")
        assert await client.call("add", (0, 0), {}) == 0
        assert runner.produced == window + codec.CREDIT_EVERY
        await stream.aclose()  # type: ignore[attr-defined]
        await settle(lambda: runner.closed_streams == [method], "the generator was closed")

    run_async(main, async_client(runner.url))


def test_the_blocking_client_also_holds_the_generator_back(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        stream = client.stream("endless", ("slow",), {})
        assert next(stream) == 1
        wait_until(lambda: runner.produced >= codec.STREAM_WINDOW, "the window was sent")
        assert client.call("add", (0, 0), {}) == 0
        assert runner.produced == codec.STREAM_WINDOW
        stream.close()
        wait_until(lambda: runner.closed_streams == ["slow"], "the generator was closed")


def test_what_cannot_be_streamed_says_so(runner: ServedRunner) -> None:
    with pytest.raises(RunnerError, match=r"TypeError: runner method 'add' returned int, which"):
        collect(runner, "add", 1)
    with pytest.raises(RunnerError, match="has no method 'nope'"):
        collect(runner, "nope")
    received: list[Any] = []
    with (
        blocking_client(runner.url) as client,
        pytest.raises(
            RunnerError, match="an item of the stream of 'unsendable_items' cannot be sent back"
        ),
    ):
        for item in client.stream("unsendable_items", (), {}):
            received.append(item)
    assert received == [1]
    wait_until(lambda: runner.closed_streams == ["unsendable_items"], "the generator was closed")
    with (
        blocking_client(runner.url) as client,
        pytest.raises(RunnerError, match=r"arguments cannot be sent to the runner \(TypeError"),
    ):
        list(client.stream("count", (threading.Lock(),), {}))
    # a plain call to a generator says how to call it instead
    with (
        blocking_client(runner.url) as client,
        pytest.raises(RunnerError, match=r"a generator: call it with runner\.count\.async_stream"),
    ):
        client.call("count", (3,), {})


def test_each_item_has_runners_timeout(runner: ServedRunner) -> None:
    with blocking_client(runner.url, timeout=0.3) as client:
        stream = client.stream("gated", (2,), {})
        assert next(stream) == 0
        with pytest.raises(GatewayTimeout, match=r"did not answer within 0\.3s"):
            next(stream)
    wait_until(lambda: streams_in_progress(runner) == 0, "the runner saw the stream's end")
    runner.release.set()  # the step waiting in the lane goes on, and its generator is closed
    wait_until(lambda: runner.closed_streams == ["gated"], "the first generator was closed")

    async def main(client: AsyncRunnerClient) -> None:
        stream = client.stream("gated", (2,), {})
        assert await anext(stream) == 0
        with pytest.raises(GatewayTimeout):
            await anext(stream)
        await settle(lambda: streams_in_progress(runner) == 0, "the runner saw the CANCEL")

    run_async(main, async_client(runner.url, timeout=0.3))
    runner.release.set()
    wait_until(lambda: runner.closed_streams == ["gated"] * 2, "the second generator was closed")


def test_a_lost_connection_ends_the_stream_with_a_503(runner: ServedRunner) -> None:
    async def main(client: AsyncRunnerClient) -> None:
        stream = client.stream("gated", (3,), {})
        assert await anext(stream) == 0
        runner.in_loop(lambda: [c.close() for c in list(runner.server.connections)])
        with pytest.raises(ServiceUnavailable, match="method 'gated' is unavailable"):
            await anext(stream)

    run_async(main, async_client(runner.url))
    wait_until(lambda: streams_in_progress(runner) == 0, "the runner saw the connection go")
    runner.release.set()
    wait_until(lambda: runner.closed_streams == ["gated"], "the generator was closed")

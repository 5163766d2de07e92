"""A sync function run on the loop thread by ``run_inline``: it stays on that thread, and while it
waits (``wait_readable``, the blocking runner client) the loop serves other work."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest

from bentoml_classic.exceptions import GatewayTimeout
from bentoml_classic.inline_greenlet import (
    inline_in_progress,
    on_loop_thread,
    run_inline,
    wait_readable,
)
from bentoml_classic.running_loop import running_loop_or_none
from tests.support.waiting import WAIT
from tests.unit.protocol.served import ServedRunner, blocking_client


def nothing() -> None:
    pass


def test_the_function_waits_for_its_socket_while_the_loop_serves() -> None:
    reading, writing = socket.socketpair()
    seen: dict[str, Any] = {}

    def func() -> bytes:
        seen["thread"] = threading.current_thread()
        seen["loop"] = running_loop_or_none()
        seen["may_yield"] = on_loop_thread()
        # only the loop can write the byte: had the wait held it, this would time out
        seen["ready"] = wait_readable(reading.fileno(), WAIT)
        seen["loop_after"] = running_loop_or_none()
        return reading.recv(1)

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, writing.send, b"x")
        return await run_inline(func, (), {}, nothing, nothing)

    with reading, writing:
        assert asyncio.run(main()) == b"x"
    assert seen == {
        "thread": threading.main_thread(),
        "loop": None,  # hidden while the function runs, as in a pool thread
        "may_yield": True,
        "ready": True,
        "loop_after": None,
    }
    assert not on_loop_thread()  # outside run_inline


def test_a_wait_times_out_and_errors_reach_the_caller() -> None:
    reading, writing = socket.socketpair()

    def func() -> None:
        if not wait_readable(reading.fileno(), 0.05):
            raise TimeoutError("nothing came")

    async def main() -> None:
        with pytest.raises(TimeoutError, match="nothing came"):
            await run_inline(func, (), {}, nothing, nothing)

    with reading, writing:
        asyncio.run(main())


def test_the_hold_is_reported_only_while_the_function_holds_the_loop() -> None:
    reading, writing = socket.socketpair()
    events: list[str] = []

    def func() -> None:
        events.append("run")
        wait_readable(reading.fileno(), WAIT)
        events.append("run")

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.02, writing.send, b"x")
        await run_inline(
            func, (), {}, lambda: events.append("enter"), lambda: events.append("leave")
        )

    with reading, writing:
        asyncio.run(main())
    assert events == ["enter", "run", "leave", "enter", "run", "leave"]


def test_a_cancelled_caller_leaves_the_function_to_finish() -> None:
    reading, writing = socket.socketpair()
    finished = threading.Event()

    def func() -> None:
        wait_readable(reading.fileno(), WAIT)
        finished.set()

    async def main() -> None:
        task = asyncio.ensure_future(run_inline(func, (), {}, nothing, nothing))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not finished.is_set()
        # it still holds this thread's runner connections: no other inline call meanwhile
        assert inline_in_progress()
        writing.send(b"x")
        for _ in range(200):
            if finished.is_set() and not inline_in_progress():
                return
            await asyncio.sleep(0.01)

    with reading, writing:
        asyncio.run(main())
    assert finished.is_set()  # run once, to its end, as a pool thread would
    assert not inline_in_progress()


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_a_blocking_runner_call_gives_the_loop_back_while_the_model_works(
    make_runner: Any, transport: str
) -> None:
    runner: ServedRunner = make_runner(transport)
    with blocking_client(runner.url) as client:

        async def main() -> Any:
            # the model answers only once the loop has run this: the call must not hold it
            asyncio.get_running_loop().call_later(0.1, runner.release.set)
            return await run_inline(client.call, ("block", ("done",), {}), {}, nothing, nothing)

        assert asyncio.run(main()) == "done"


def test_a_blocking_runner_call_that_hangs_times_out_with_the_loop_free(
    make_runner: Any,
) -> None:
    runner: ServedRunner = make_runner("unix")
    with blocking_client(runner.url, timeout=0.3) as client:

        async def main() -> int:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.ensure_future(tick())
            with pytest.raises(GatewayTimeout):
                await run_inline(client.call, ("block", ("late",), {}), {}, nothing, nothing)
            ticker.cancel()
            return ticks

        assert asyncio.run(main()) > 0
        runner.release.set()

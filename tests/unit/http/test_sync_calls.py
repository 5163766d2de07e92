"""Where a sync API function runs: the pool until it proved quick, then the loop thread while it
is the worker's only request; what code running inline sees of the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bentoml_classic.http.sync_calls import (
    INLINE_LIMIT_S,
    MAX_PROVEN_AFTER,
    PROVEN_AFTER,
    REQUEST_TASKS,
    STALL_LIMIT_S,
    InlineWatch,
    SyncCaller,
    is_lone_request,
)
from bentoml_classic.http.threadpool import ThreadPool
from bentoml_classic.inline_greenlet import wait_readable
from tests.support.waiting import WAIT, FakeClock


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    pool = ThreadPool(max_threads=4, name="test-sync")
    yield pool
    pool.shutdown()


def where(clock: FakeClock, seconds: float = 0.0) -> Callable[[], str]:
    """A function that reports its thread and takes ``seconds`` of the fake clock."""

    def func() -> str:
        clock.now += seconds
        return threading.current_thread().name

    return func


async def threads_of(
    caller: SyncCaller, func: Callable[[], Any], times: int, lone: bool = True
) -> list[str]:
    return [await caller.call(func, (), {}, lone) for _ in range(times)]


def test_a_quick_function_runs_in_the_pool_until_proven_then_on_the_loop_thread(
    pool: ThreadPool,
) -> None:
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock)

    async def main() -> tuple[list[str], str]:
        names = await threads_of(caller, where(clock, INLINE_LIMIT_S), PROVEN_AFTER + 3)
        return names, threading.current_thread().name

    names, loop_thread = asyncio.run(main())
    assert all(name.startswith("test-sync-") for name in names[:PROVEN_AFTER])
    assert names[PROVEN_AFTER:] == [loop_thread] * 3


def test_a_proven_function_goes_to_the_pool_while_other_requests_are_in_progress(
    pool: ThreadPool,
) -> None:
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock)

    async def main() -> list[str]:
        await threads_of(caller, where(clock), PROVEN_AFTER)
        assert caller.proven
        return await threads_of(caller, where(clock), 3, lone=False)

    assert all(name.startswith("test-sync-") for name in asyncio.run(main()))
    assert caller.proven  # the pool runs were quick: still proven for the next lone call


def test_configured_off_never_runs_inline(pool: ThreadPool) -> None:
    clock = FakeClock()
    caller = SyncCaller(pool, inline_allowed=False, clock=clock)
    names = asyncio.run(threads_of(caller, where(clock), PROVEN_AFTER * 3))
    assert all(name.startswith("test-sync-") for name in names)
    assert not caller.proven


def test_a_slow_pool_run_restarts_the_count(pool: ThreadPool) -> None:
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock)

    async def main() -> None:
        await threads_of(caller, where(clock), PROVEN_AFTER - 1)
        await caller.call(where(clock, INLINE_LIMIT_S * 1.5), (), {}, True)
        await threads_of(caller, where(clock), PROVEN_AFTER - 1)
        assert not caller.proven
        await threads_of(caller, where(clock), 1)
        assert caller.proven

    asyncio.run(main())


def test_an_inline_stall_sends_the_function_back_and_doubles_what_it_must_prove(
    pool: ThreadPool,
) -> None:
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock)

    async def main() -> None:
        await threads_of(caller, where(clock), PROVEN_AFTER)
        # a hiccup a few times the usual length: the machine, not the function; stays inline
        await caller.call(where(clock, STALL_LIMIT_S / 2), (), {}, True)
        assert caller.proven
        await caller.call(where(clock, STALL_LIMIT_S * 2), (), {}, True)  # ran inline, stalled
        assert not caller.proven
        names = await threads_of(caller, where(clock), 2 * PROVEN_AFTER + 1)
        assert all(name.startswith("test-sync-") for name in names[: 2 * PROVEN_AFTER])
        assert names[-1] == threading.current_thread().name

    asyncio.run(main())


def test_what_a_function_must_prove_stops_growing(pool: ThreadPool) -> None:
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock, proven_after=1)

    async def main() -> None:
        for _ in range(20):
            while not caller.proven:
                await caller.call(where(clock), (), {}, True)
            await caller.call(where(clock, STALL_LIMIT_S * 2), (), {}, True)
        names = await threads_of(caller, where(clock), MAX_PROVEN_AFTER + 1)
        assert names[-1] == threading.current_thread().name

    asyncio.run(main())


def test_inline_code_sees_no_running_loop_and_may_run_its_own(pool: ThreadPool) -> None:
    """As in a pool thread: asyncio.run() works, get_running_loop() raises; the server's loop
    is back afterwards, also when the function raised."""
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock, proven_after=0)

    async def double(value: int) -> int:
        await asyncio.sleep(0)
        return 2 * value

    def uses_asyncio() -> tuple[int, bool]:
        try:
            asyncio.get_running_loop()
            saw_loop = True
        except RuntimeError:
            saw_loop = False
        return asyncio.run(double(21)), saw_loop

    def fails() -> None:
        raise KeyError("boom")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert await caller.call(uses_asyncio, (), {}, True) == (42, False)
        assert asyncio.get_running_loop() is loop
        with pytest.raises(KeyError, match="boom"):
            await caller.call(fails, (), {}, True)
        assert asyncio.get_running_loop() is loop
        await asyncio.sleep(0)  # the loop still works

    asyncio.run(main())


def test_inline_code_runs_in_a_copy_of_the_callers_context(pool: ThreadPool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    caller = SyncCaller(pool, clock=FakeClock(), proven_after=0)

    def read_then_set() -> str:
        seen = var.get()
        var.set("set by the function")
        return seen

    async def main() -> None:
        var.set("set by the caller")
        assert await caller.call(read_then_set, (), {}, True) == "set by the caller"
        assert var.get() == "set by the caller"

    asyncio.run(main())


def test_arguments_reach_the_function_either_way(pool: ThreadPool) -> None:
    caller = SyncCaller(pool, clock=FakeClock(), proven_after=1)

    def add(a: int, b: int = 0) -> int:
        return a + b

    async def main() -> list[int]:
        return [await caller.call(add, (1,), {"b": 2}, True) for _ in range(2)]

    assert asyncio.run(main()) == [3, 3]  # the first in the pool, the second inline


@pytest.mark.parametrize(
    ("scope", "lone"),
    [
        ({}, False),  # not served by our protocol: cannot tell
        ({REQUEST_TASKS: {"me"}}, True),
        ({REQUEST_TASKS: {"me", "another"}}, False),
    ],
)
def test_is_lone_request(scope: dict[str, Any], lone: bool) -> None:
    assert is_lone_request(scope) is lone


def test_an_inline_call_that_holds_the_loop_for_long_is_reported_once(
    pool: ThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    watch = InlineWatch(report_after_s=0.2, interval_s=0.02)
    caller = SyncCaller(pool, name="stuck", watch=watch, proven_after=0)

    def quick() -> None:
        pass

    async def main() -> None:
        await caller.call(quick, (), {}, True)
        await caller.call(time.sleep, (0.6,), {}, True)  # holds the loop thread three times over
        await caller.call(time.sleep, (0.05,), {}, True)  # too short to be reported

    with caplog.at_level(logging.ERROR, logger="bentoml_classic.http.sync_calls"):
        asyncio.run(main())
        time.sleep(0.1)
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 1, reports
    assert "'stuck'" in reports[0]
    assert "api_server.inline_sync_apis=false" in reports[0]
    assert caller.inline_since is None


def test_a_lone_call_while_an_inline_call_waits_for_its_runner_goes_to_the_pool(
    pool: ThreadPool,
) -> None:
    # the waiting call holds this thread's runner connections: a second one inline would share
    # them, so it goes to the pool while the loop serves it
    clock = FakeClock()
    caller = SyncCaller(pool, clock=clock)
    reading, writing = socket.socketpair()

    def waits() -> str:
        assert wait_readable(reading.fileno(), WAIT)
        return threading.current_thread().name

    async def main() -> tuple[str, str, str]:
        await threads_of(caller, where(clock), PROVEN_AFTER)
        first = asyncio.ensure_future(caller.call(waits, (), {}, True))
        await asyncio.sleep(0.02)
        second = await caller.call(where(clock), (), {}, True)
        writing.send(b"x")
        return await first, second, threading.current_thread().name

    with reading, writing:
        first, second, loop_thread = asyncio.run(main())
    assert first == loop_thread
    assert second.startswith("test-sync-")

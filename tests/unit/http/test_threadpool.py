"""The thread pool that runs sync API functions off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bentoml_classic.http.threadpool import ThreadPool
from tests.support.waiting import wait_for

WAIT = 10.0
_names = itertools.count()
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def pool_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-")]


@pytest.fixture
def make_pool() -> Iterator[Callable[..., tuple[ThreadPool, str]]]:
    pools: list[tuple[ThreadPool, str]] = []

    def make(max_threads: int = 40) -> tuple[ThreadPool, str]:
        name = f"test-pool-{next(_names)}"
        pool = ThreadPool(max_threads=max_threads, name=name)
        pools.append((pool, name))
        return pool, name

    try:
        yield make
    finally:
        for pool, name in pools:
            pool.shutdown()
            assert wait_for(lambda name=name: not pool_threads(name)), "pool threads left"


def test_result_args_and_kwargs(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, _ = make_pool()

    def work(a: int, b: int, *, scale: int = 1) -> tuple[int, int]:
        return (a + b) * scale, threading.get_ident()

    async def main() -> tuple[int, int]:
        return await pool.run(work, 2, 3, scale=10)

    value, ident = asyncio.run(main())
    assert value == 50
    assert ident != threading.get_ident()


def test_runs_in_a_named_pool_thread(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, name = make_pool()

    async def main() -> str:
        return await pool.run(lambda: threading.current_thread().name)

    assert asyncio.run(main()).startswith(f"{name}-")


def test_exceptions_propagate(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, _ = make_pool()

    class Boom(Exception):
        pass

    error = Boom("kaput")

    def fail() -> None:
        raise error

    async def main() -> Any:
        with pytest.raises(Boom) as caught:
            await pool.run(fail)
        assert caught.value is error
        # the worker survived it
        return await pool.run(lambda: "still working")

    assert asyncio.run(main()) == "still working"


def test_context_vars_propagate(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, _ = make_pool(max_threads=4)

    def read_and_change() -> str:
        seen = request_id.get()
        request_id.set("changed in the pool")
        return seen

    async def handle(n: int) -> tuple[str, str]:
        request_id.set(f"request-{n}")
        seen = await pool.run(read_and_change)
        return seen, request_id.get()

    async def main() -> list[tuple[str, str]]:
        return await asyncio.gather(*(handle(n) for n in range(20)))

    results = asyncio.run(main())
    # each call saw its own caller's value; the caller's context is not changed by the call
    assert results == [(f"request-{n}", f"request-{n}") for n in range(20)]


def test_threads_are_created_lazily(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, name = make_pool()
    assert pool_threads(name) == []

    async def main() -> int:
        return await pool.run(lambda: 1)

    assert asyncio.run(main()) == 1
    assert 1 <= len(pool_threads(name)) <= 2


def test_never_more_than_max_threads(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, name = make_pool(max_threads=3)
    release = threading.Event()
    idents: set[int] = set()
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            idents.add(threading.get_ident())
        release.wait(WAIT)
        return n * n

    async def main() -> list[int]:
        futures = [pool.run(work, n) for n in range(12)]
        await asyncio.sleep(0.05)
        assert len(pool_threads(name)) <= 3
        release.set()
        return await asyncio.wait_for(asyncio.gather(*futures), WAIT)

    assert asyncio.run(main()) == [n * n for n in range(12)]
    assert 1 <= len(idents) <= 3
    assert len(pool_threads(name)) <= 3


# Regression test (a bug, fixed since): ThreadPool.run starts a thread only when no thread is idle,
# and a thread counts as idle until it has taken an item off the queue (threadpool.py,
# ThreadPool.run: `if self._idle == 0`). Calls made before the idle thread wakes up all count on
# that one thread.
@pytest.mark.parametrize("parties", [2, 4])
def test_concurrent_calls_run_concurrently(
    make_pool: Callable[..., tuple[ThreadPool, str]], parties: int
) -> None:
    pool, _ = make_pool(max_threads=8)
    barrier = threading.Barrier(parties, timeout=3)

    def meet(n: int) -> int:
        barrier.wait()  # needs all the calls in flight at once
        return n

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(meet, n) for n in range(parties)))

    try:
        assert asyncio.run(main()) == list(range(parties))
    finally:
        barrier.abort()


# Regression test (a bug, fixed since): with one idle thread in the pool (after a first call), three
# concurrent calls are all queued for that one thread instead of starting two more (max_threads is
# 8): they run one after the other, and here, where they wait on each other, they deadlock
# (threadpool.py, ThreadPool.run, `if self._idle == 0`: it should compare idle threads with queued
# work).
def test_concurrent_calls_after_warm_up(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    """Threads started for earlier calls are reused, and more start when all are busy."""
    pool, name = make_pool(max_threads=8)
    barrier = threading.Barrier(3, timeout=3)

    async def main() -> list[int]:
        for _ in range(3):  # sequential calls: the pool stays small
            assert await pool.run(lambda: 0) == 0
        return await asyncio.gather(
            *(pool.run(lambda n=n: (barrier.wait(), n)[1]) for n in range(3))
        )

    try:
        assert asyncio.run(main()) == [0, 1, 2]
    finally:
        barrier.abort()
    assert len(pool_threads(name)) <= 8


def test_cancelled_caller(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, _ = make_pool(max_threads=2)
    release = threading.Event()
    loop_errors: list[dict[str, Any]] = []

    async def main() -> str:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.run(release.wait, WAIT), 0.05)
        release.set()  # the call finishes after its caller gave up
        await asyncio.sleep(0.1)
        return await pool.run(lambda: "ok")

    assert asyncio.run(main()) == "ok"
    assert loop_errors == []


def test_shutdown_stops_the_threads(make_pool: Callable[..., tuple[ThreadPool, str]]) -> None:
    pool, name = make_pool(max_threads=4)

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(lambda n=n: n) for n in range(8)))

    assert asyncio.run(main()) == list(range(8))
    assert pool_threads(name)
    pool.shutdown()
    assert wait_for(lambda: not pool_threads(name))


def test_shutdown_lets_queued_work_finish(
    make_pool: Callable[..., tuple[ThreadPool, str]],
) -> None:
    pool, name = make_pool(max_threads=1)
    release = threading.Event()
    done: list[int] = []

    async def main() -> None:
        futures = [pool.run(lambda n=n: (release.wait(WAIT), done.append(n))) for n in range(3)]
        pool.shutdown()
        release.set()
        await asyncio.wait_for(asyncio.gather(*futures), WAIT)

    asyncio.run(main())
    assert done == [0, 1, 2]
    assert wait_for(lambda: not pool_threads(name))


def test_a_thread_survives_its_event_loop_closing_mid_call() -> None:
    """The result of a call whose loop has gone is dropped; the thread goes on serving."""
    pool = ThreadPool(max_threads=1)
    release = threading.Event()

    async def abandon() -> None:
        pool.run(release.wait, 5)  # never awaited: the loop ends while it runs

    try:
        asyncio.run(abandon())
        release.set()

        async def again() -> int:
            return await asyncio.wait_for(pool.run(lambda: 7), 5)

        assert asyncio.run(again()) == 7
        assert len(pool._threads) == 1
    finally:
        release.set()
        pool.shutdown()

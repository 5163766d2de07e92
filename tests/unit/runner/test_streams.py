"""Generator methods of a Runnable: declared, refused as batchable, and streamed under
``init_local()`` (the production topology's streams: tests/unit/protocol/test_streams.py and
tests/e2e/test_runner_objects.py)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bentoml_classic.exceptions import InvalidArgument, StateException
from bentoml_classic.runner import Runnable, RunnableMethodConfig, Runner
from tests.support.waiting import WAIT


class Tokens(Runnable):
    def __init__(self) -> None:
        self.closed: list[str] = []
        self.threads: list[str] = []
        self.release = threading.Event()

    @Runnable.method
    def words(self, text: str) -> Iterator[str]:
        try:
            for word in text.split():
                self.threads.append(threading.current_thread().name)
                yield word
        finally:
            self.closed.append("words")

    @Runnable.method
    async def awords(self, text: str) -> AsyncIterator[str]:
        try:
            for word in text.split():
                await asyncio.sleep(0)
                yield word
        finally:
            self.closed.append("awords")

    @Runnable.method
    def fail_after(self, n: int) -> Iterator[int]:
        yield from range(n)
        raise ValueError(f"failed after {n}")

    @Runnable.method
    def waits(self) -> Iterator[int]:
        """Yields 0, then 1 once released: the first item is out before the second exists."""
        yield 0
        assert self.release.wait(WAIT)
        yield 1

    @Runnable.method
    def a_list(self, n: int) -> list[int]:
        return list(range(n))

    @Runnable.method
    def scalar(self) -> int:
        return 5


@pytest.fixture
def tokens() -> Iterator[Runner]:
    runner = Runner(Tokens, name="tokens")
    runner.init_local(quiet=True)
    yield runner
    runner.destroy()


def instance(runner: Runner) -> Tokens:
    return runner._handle._instance  # type: ignore[attr-defined,no-any-return]


def test_generator_methods_are_marked_as_streams() -> None:
    methods = Tokens.bentoml_runnable_methods__
    assert methods["words"].stream and methods["awords"].stream
    assert not methods["a_list"].stream
    runner = Runner(Tokens)
    assert "stream" in repr(runner.words) and "stream" not in repr(runner.scalar)


def test_a_generator_method_cannot_be_batchable() -> None:
    with pytest.raises(InvalidArgument, match=r"Bad\.gen is a generator function.*batchable"):

        class Bad(Runnable):
            @Runnable.method(batchable=True)
            def gen(self, x: Any) -> Iterator[Any]:
                yield x

    def agen(self: Any, x: Any) -> AsyncIterator[Any]:
        async def items() -> AsyncIterator[Any]:
            yield x

        return items()

    async def real_agen(self: Any, x: Any) -> AsyncIterator[Any]:
        yield x

    with pytest.raises(InvalidArgument, match="cannot be batchable"):
        Tokens.add_method(real_agen, "bad", RunnableMethodConfig(batchable=True))

    class Added(Runnable):
        pass

    Added.add_method(real_agen, "agen", RunnableMethodConfig())
    assert Added.bentoml_runnable_methods__["agen"].stream
    Added.add_method(agen, "plain", RunnableMethodConfig(batchable=True))  # not a generator
    assert not Added.bentoml_runnable_methods__["plain"].stream


def test_stream_and_async_stream_yield_the_items(tokens: Runner) -> None:
    assert list(tokens.words.stream("a b c")) == ["a", "b", "c"]
    assert list(tokens.awords.stream("a b c")) == ["a", "b", "c"]  # an async one, from sync code

    async def main() -> list[list[str]]:
        return [
            [word async for word in tokens.words.async_stream("d e")],
            [word async for word in tokens.awords.async_stream("d e")],
        ]

    assert asyncio.run(main()) == [["d", "e"], ["d", "e"]]
    # the sync generator's items were taken in worker threads, not on the event loop
    assert "MainThread" not in instance(tokens).threads[-2:]


def test_run_and_async_run_of_a_generator_method_return_its_items(tokens: Runner) -> None:
    # classic init_local() returned the generator itself from run(): an iterator of the items
    assert list(tokens.words.run("x y")) == ["x", "y"]

    async def main() -> list[str]:
        items = await tokens.awords.async_run("x y")
        return [word async for word in items]

    assert asyncio.run(main()) == ["x", "y"]


def test_an_iterable_streams_too_and_a_value_does_not(tokens: Runner) -> None:
    assert list(tokens.a_list.stream(3)) == [0, 1, 2]
    with pytest.raises(TypeError, match="'scalar' returned int, which is not iterable"):
        list(tokens.scalar.stream())

    async def main() -> None:
        with pytest.raises(TypeError, match="'scalar' returned int"):
            async for _ in tokens.scalar.async_stream():
                pass

    asyncio.run(main())


def test_an_error_mid_stream_raises_after_the_items(tokens: Runner) -> None:
    received: list[int] = []
    with pytest.raises(ValueError, match="failed after 2"):
        for item in tokens.fail_after.stream(2):
            received.append(item)
    assert received == [0, 1]

    async def main() -> None:
        async for item in tokens.fail_after.async_stream(2):
            received.append(item)

    with pytest.raises(ValueError, match="failed after 2"):
        asyncio.run(main())
    assert received == [0, 1, 0, 1]


def test_leaving_early_closes_the_generator(tokens: Runner) -> None:
    for _ in tokens.words.stream("a b c"):
        break
    assert instance(tokens).closed == ["words"]

    async def main() -> None:
        for method in (tokens.words, tokens.awords):
            async with contextlib.aclosing(method.async_stream("a b c")) as items:
                async for _ in items:
                    break

    asyncio.run(main())
    assert instance(tokens).closed == ["words", "words", "awords"]


def test_the_first_item_arrives_before_the_second_exists(tokens: Runner) -> None:
    async def main() -> list[int]:
        received = []
        async for item in tokens.waits.async_stream():
            received.append(item)
            instance(tokens).release.set()  # the loop was free while the generator waited
        return received

    assert asyncio.run(main()) == [0, 1]


def test_an_uninitialised_runner_refuses_streams() -> None:
    runner = Runner(Tokens)
    with pytest.raises(StateException, match="init_local"):
        runner.words.stream("a")
    with pytest.raises(StateException, match="init_local"):
        runner.words.async_stream("a")

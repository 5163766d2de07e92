"""What a streaming runner method returned, made into something to iterate.

Shared by the two places that run a runnable's generator methods: a runner in this process
(``runner/local.py``) and a runner worker (``protocol/server_streams.py``). Both accept what
classic BentoML's ``async_stream`` accepted: an async generator (or any async iterator), or
anything iterable, a generator above all. Anything else is a ``TypeError`` that says how to call
the method instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any


def stream_source(produced: Any, method: str) -> Iterator[Any] | AsyncIterator[Any]:
    """An async iterator as it is, else an iterator over ``produced``."""
    if isinstance(produced, AsyncIterator):  # async generators among them
        return produced
    try:
        items: Iterator[Any] = iter(produced)
    except TypeError:
        raise TypeError(
            f"runner method {method!r} returned {type(produced).__name__}, which is not "
            "iterable: only a generator method can be streamed (async_stream, stream); call "
            "this one with run() or async_run()"
        ) from None
    return items


def close_iterator(iterator: Iterator[Any]) -> None:
    """Close a generator (its ``finally`` blocks run now); other iterators have nothing to."""
    close = getattr(iterator, "close", None)
    if callable(close):
        close()


async def aclose_iterator(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if callable(aclose):
        await aclose()


def iterate_on_private_loop(items: AsyncIterator[Any]) -> Iterator[Any]:
    """The items of an async iterator, for sync code: each step runs on an event loop of this
    generator's own, in the calling thread, which must not be running one."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                item = loop.run_until_complete(anext(items))
            except StopAsyncIteration:
                return
            yield item
    finally:
        try:
            loop.run_until_complete(aclose_iterator(items))
        finally:
            loop.close()

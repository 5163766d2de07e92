"""Class services calling each other, and classic services, in one process (``build_app``'s
default and ``--development``): the same call path as production, through the runner
protocol's encoding (``composition/local.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx
import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.io import JSON
from tests.support.servers import live_server

made: list[str] = []
batches: list[int] = []


@bentoml.service
class Arithmetic:
    def __init__(self) -> None:
        made.append("arithmetic")
        self.offset = 10

    @bentoml.api
    def scaled(self, value: int, scale: int = 2, *, shift: int = 0) -> int:
        return value * scale + shift + self.offset

    @bentoml.api(batchable=True, max_batch_size=8)
    async def doubled(self, rows: np.ndarray) -> np.ndarray:
        batches.append(len(rows))
        await asyncio.sleep(0)  # the other callers queue meanwhile
        return rows * 2


# a classic service that a class service depends on
words = bentoml.Service("words")


@words.api(input=JSON(), output=JSON())
def shout(text: Any) -> Any:
    return str(text).upper()


@bentoml.service
class Entry:
    arithmetic = bentoml.depends(Arithmetic)
    words = bentoml.depends(words)

    @bentoml.api
    async def awaited(self, value: int) -> dict[str, Any]:
        positional = await self.arithmetic.scaled(value, 3)
        keywords = await self.arithmetic.scaled(value=value, shift=1)
        return {"positional": positional, "keywords": keywords}

    @bentoml.api
    def plain(self, value: int) -> dict[str, Any]:
        return {"scaled": self.arithmetic.scaled(value), "shout": self.words.shout("hi")}


# a classic service that depends on a class service
classic_entry = bentoml.Service("classic_entry")
to_arithmetic = bentoml.depends(Arithmetic)


@classic_entry.api(input=JSON(), output=JSON())
async def classic_scaled(value: Any) -> Any:
    return await to_arithmetic.scaled.async_run(value, scale=5)


def test_all_services_finds_class_attributes_and_classic_handles() -> None:
    assert list(Entry.all_services()) == ["entry", "arithmetic", "words"]
    assert Entry.graph().node("entry").depends_on == ("arithmetic", "words")
    assert list(classic_entry.all_services()) == ["classic_entry", "arithmetic"]


def test_async_and_sync_apis_call_their_dependencies_in_their_own_style() -> None:
    made.clear()
    with live_server(build_app(Entry)) as url:
        assert made == ["arithmetic"]  # made by the startup hook, before the first request
        answer = httpx.post(f"{url}/awaited", json={"value": 4}).json()
        assert answer == {"positional": 4 * 3 + 10, "keywords": 4 * 2 + 1 + 10}
        answer = httpx.post(f"{url}/plain", json={"value": 1}).json()
        assert answer == {"scaled": 12, "shout": "HI"}
        assert httpx.get(f"{url}/readyz").status_code == 200
    assert made == ["arithmetic"]  # one instance for every call


def test_a_classic_service_calls_a_class_service() -> None:
    with live_server(build_app(classic_entry)) as url:
        assert httpx.post(f"{url}/classic_scaled", json=2).json() == 2 * 5 + 10


def test_a_wrong_call_fails_in_the_caller_naming_the_api() -> None:
    handle = bentoml.depends(Arithmetic)
    with pytest.raises(TypeError, match=r"service .arithmetic. API .scaled.*shift"):
        handle.scaled(1, 2, 3)  # shift is keyword-only
    assert handle.scaled(1, shift=5) == 1 * 2 + 5 + 10  # no loop here: a plain call


def test_concurrent_calls_to_a_batchable_api_are_joined() -> None:
    handle = bentoml.depends(Arithmetic)
    batches.clear()

    async def four_calls() -> list[Any]:
        calls = [handle.doubled(np.array([k, k])) for k in range(4)]
        return list(await asyncio.gather(*calls))

    results = asyncio.run(four_calls())
    assert [r.tolist() for r in results] == [[0, 0], [2, 2], [4, 4], [6, 6]]
    # the first call found the batcher free and ran alone; the three behind it ran as one
    assert batches == [2, 6]


@bentoml.service
class Words:
    @bentoml.api
    def tokens(self, n: int) -> Generator[str, None, None]:
        for k in range(n):
            yield f"w{k} "


@bentoml.service
class Streams:
    words = bentoml.depends(Words)

    @bentoml.api
    async def joined(self, n: int, ctx: bentoml.Context) -> str:
        ctx.response.headers["x-count"] = str(n)
        return "".join([token async for token in self.words.tokens(n)])

    @bentoml.api
    async def relayed(self, n: int) -> AsyncGenerator[str, None]:
        async for token in self.words.tokens(n):
            yield token.upper()


def test_streams_cross_between_class_services_and_a_context_reaches_the_method() -> None:
    with live_server(build_app(Streams)) as url:
        joined = httpx.post(f"{url}/joined", json={"n": 3})
        assert (joined.text, joined.headers["x-count"]) == ("w0 w1 w2 ", "3")
        relayed = httpx.post(f"{url}/relayed", json={"n": 2})
        assert relayed.text == "W0 W1 "

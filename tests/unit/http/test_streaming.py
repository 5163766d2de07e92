"""Streamed answers over real HTTP: an API with a Text() output whose function returns a sync
or async iterator sends each chunk as it is produced."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.types import ASGIApp, Receive, Scope, Send

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.http.openapi import STREAMED_DESCRIPTION
from bentoml_classic.io import JSON, Text
from tests.support.servers import live_server
from tests.support.waiting import WAIT, wait_for

#: per test, by the key its request body names: set by the test, awaited by the generator
RELEASE: defaultdict[str, threading.Event] = defaultdict(threading.Event)
#: set by a generator when it finished or was closed
FINISHED: defaultdict[str, threading.Event] = defaultdict(threading.Event)
CLOSED: defaultdict[str, threading.Event] = defaultdict(threading.Event)


def streaming_service() -> bentoml.Service:
    svc = bentoml.Service("streaming_service")

    @svc.api(input=Text(), output=Text())
    def sync_gen(key: str, ctx: bentoml.Context) -> Iterator[str]:
        ctx.response.status_code = 201
        ctx.response.headers["X-Stream"] = "yes"
        yield "first\n"
        # blocks its thread: the worker's event loop must not be this thread
        released = RELEASE[key].wait(WAIT)
        yield "second\n" if released else "not released\n"
        FINISHED[key].set()

    @svc.api(input=Text(), output=Text())
    async def async_gen(key: str) -> AsyncIterator[str]:
        yield "a"
        deadline = time.monotonic() + WAIT
        while not RELEASE[key].is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        yield b"b"  # type: ignore[misc]  # bytes chunks go out as they are
        FINISHED[key].set()

    @svc.api(input=Text(), output=Text())
    def returns_iterator(text: str) -> Iterator[str]:
        return iter(text.split())

    @svc.api(input=Text(), output=Text())
    async def returns_async_iterator(text: str) -> AsyncIterator[str]:
        # what `return runner.x.async_stream(...)` from an async API looks like
        async def words() -> AsyncIterator[str]:
            for word in text.split():
                yield word

        return words()

    @svc.api(input=Text(), output=Text())
    def breaks(key: str) -> Iterator[str]:
        yield "ok\n"
        raise RuntimeError(f"token=SECRET {key}")

    @svc.api(input=Text(), output=Text())
    def fails_first(key: str, ctx: bentoml.Context) -> Iterator[str]:
        ctx.response.status_code = 201
        raise RuntimeError("token=SECRET")
        yield "never"

    @svc.api(input=Text(), output=Text())
    async def bad_chunk(key: str) -> AsyncIterator[object]:
        yield "fine"
        yield 5

    @svc.api(input=Text(), output=Text())
    def empty(key: str) -> Iterator[str]:
        yield from ()

    @svc.api(input=Text(), output=Text())
    def endless(key: str) -> Iterator[str]:
        try:
            while True:
                yield "tick\n"
                time.sleep(0.01)
        finally:
            CLOSED[key].set()

    @svc.api(input=Text(), output=Text())
    async def aendless(key: str) -> AsyncIterator[str]:
        try:
            while True:
                yield "tick\n"
                await asyncio.sleep(0.01)
        finally:
            CLOSED[key].set()

    @svc.api(input=JSON(), output=JSON())
    def not_text(_: object) -> Iterator[int]:
        yield 1

    return svc


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with live_server(build_app(streaming_service())) as url:
        yield url


@pytest.mark.parametrize(
    ("api", "first", "last"), [("sync_gen", "first\n", "second\n"), ("async_gen", "a", "b")]
)
def test_the_first_chunk_arrives_before_the_generator_has_made_the_last(
    base_url: str, api: str, first: str, last: str
) -> None:
    key = f"{api}-first-chunk"
    with httpx.stream("POST", f"{base_url}/{api}", content=key, timeout=WAIT) as response:
        assert response.status_code == (201 if api == "sync_gen" else 200)
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        chunks = response.iter_text()
        assert next(chunks) == first
        assert not FINISHED[key].is_set()
        RELEASE[key].set()
        assert "".join(chunks) == last
    assert FINISHED[key].wait(WAIT)


def test_a_blocking_sync_generator_leaves_the_event_loop_serving(base_url: str) -> None:
    key = "blocking"
    with httpx.stream("POST", f"{base_url}/sync_gen", content=key, timeout=WAIT) as response:
        chunks = response.iter_text()
        assert next(chunks) == "first\n"
        # the generator now blocks its thread until released: the worker still answers
        assert httpx.get(f"{base_url}/livez", timeout=WAIT).status_code == 200
        assert httpx.post(f"{base_url}/returns_iterator", content="a b").text == "ab"
        assert response.headers["x-stream"] == "yes"
        RELEASE[key].set()
        assert "".join(chunks) == "second\n"


@pytest.mark.parametrize("api", ["returns_iterator", "returns_async_iterator"])
def test_a_function_that_returns_an_iterator_streams_it(base_url: str, api: str) -> None:
    response = httpx.post(f"{base_url}/{api}", content="one two three")
    assert response.status_code == 200
    assert response.text == "onetwothree"
    assert response.headers["transfer-encoding"] == "chunked"


def test_an_exception_mid_stream_cuts_it_logs_it_and_the_worker_keeps_serving(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    received = []
    with caplog.at_level(logging.ERROR, logger="bentoml_classic.server"):
        with httpx.stream("POST", f"{base_url}/breaks", content="mid") as response:
            request_id = response.headers["x-request-id"]
            with pytest.raises(httpx.RemoteProtocolError):
                received.extend(response.iter_text())
        assert received == ["ok\n"]

        def logged() -> list[logging.LogRecord]:
            return [r for r in caplog.records if request_id in r.getMessage()]

        assert wait_for(logged)
    record = logged()[0]
    assert "'breaks' raised RuntimeError in the middle of its streamed answer" in (
        record.getMessage()
    )
    assert record.exc_info is not None
    assert httpx.post(f"{base_url}/returns_iterator", content="still here").text == "stillhere"


def test_a_chunk_that_is_neither_str_nor_bytes_cuts_the_stream(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bentoml_classic.server"):
        with httpx.stream("POST", f"{base_url}/bad_chunk", content="x") as response:
            received: list[str] = []
            with pytest.raises(httpx.RemoteProtocolError):
                received.extend(response.iter_text())
        assert received == ["fine"]
        assert wait_for(lambda: any("TypeError" in r.getMessage() for r in caplog.records))


def test_an_exception_before_the_first_chunk_is_a_500_envelope(base_url: str) -> None:
    response = httpx.post(f"{base_url}/fails_first", content="x")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["detail"]["exception"] == "RuntimeError"
    assert error["detail"]["request_id"] == response.headers["x-request-id"]
    assert "SECRET" not in response.text


def test_an_empty_stream_is_an_empty_answer(base_url: str) -> None:
    response = httpx.post(f"{base_url}/empty", content="x")
    assert response.status_code == 200
    assert response.text == ""
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("api", ["endless", "aendless"])
def test_a_client_that_goes_away_closes_the_generator(base_url: str, api: str) -> None:
    key = f"{api}-gone"
    with httpx.stream("POST", f"{base_url}/{api}", content=key, timeout=WAIT) as response:
        assert next(response.iter_text()).startswith("tick")
    # leaving the block closed the connection: the generator's finally runs
    assert CLOSED[key].wait(WAIT)
    assert httpx.get(f"{base_url}/livez").status_code == 200


def test_a_generator_with_another_output_is_not_streamed(base_url: str) -> None:
    response = httpx.post(f"{base_url}/not_text", json={})
    assert response.status_code == 500
    assert "cannot render" in response.json()["error"]["message"]


def test_docs_json_says_which_answers_are_streamed_and_stays_valid(base_url: str) -> None:
    document = httpx.get(f"{base_url}/docs.json").json()
    validate(document)
    ok = document["paths"]["/sync_gen"]["post"]["responses"]["200"]
    assert ok["description"] == STREAMED_DESCRIPTION
    assert list(ok["content"]) == ["text/plain"]
    assert ok["content"]["text/plain"]["schema"] == {"type": "string"}
    assert document["paths"]["/async_gen"]["post"]["responses"]["200"]["description"] == (
        STREAMED_DESCRIPTION
    )
    assert "500" in document["paths"]["/sync_gen"]["post"]["responses"]
    # an output that cannot stream, and a plain function, say nothing of streams
    assert document["paths"]["/not_text"]["post"]["responses"]["200"]["description"] == "Success"


class Watch:
    """A raw ASGI middleware that notes how the app below it ended."""

    endings: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if scope["type"] == "http":
                self.endings.append(type(exc).__name__)
            raise
        if scope["type"] == "http":
            self.endings.append("returned")


def test_a_cut_stream_fails_through_the_service_s_middlewares_too() -> None:
    svc = bentoml.Service("watched")

    @svc.api(input=Text(), output=Text())
    async def breaks(key: str) -> AsyncIterator[str]:
        yield "ok\n"
        raise RuntimeError("broken")

    svc.add_asgi_middleware(Watch)
    with live_server(build_app(svc)) as url:
        Watch.endings.clear()
        stream = httpx.stream("POST", f"{url}/breaks", content="x")
        with stream as response, pytest.raises(httpx.RemoteProtocolError):
            list(response.iter_text())
        assert wait_for(lambda: Watch.endings)
        # the middleware saw the answer fail, not end as if complete
        assert Watch.endings == ["StreamCut"]
        assert httpx.get(f"{url}/livez").status_code == 200

"""The clients over real HTTP, against the API app served by uvicorn in a thread: what only a
live connection shows (timeouts, refused connections, event loops, readiness, servers that
are no service). Every descriptor against the production topology: tests/e2e/test_client.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

import bentoml_classic as bentoml
from bentoml_classic.client import (
    AsyncClient,
    Client,
    ClientConnectionError,
    ClientTimeoutError,
    ServerError,
    ServerNotReady,
    ServiceDescriptionError,
)
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.http.app import build_app
from bentoml_classic.io import JSON, Text
from tests.support.servers import free_port, live_server


def service(release: threading.Event) -> bentoml.Service:
    svc = bentoml.Service("live")

    @svc.api(input=JSON(), output=JSON())
    def echo(value: Any) -> Any:
        return value

    @svc.api(input=Text(), output=Text())
    async def shout(text: str) -> str:
        return text.upper()

    @svc.api(input=JSON(), output=JSON())
    def stall(value: Any) -> Any:
        release.wait(30)  # until the test lets it go: no sleep-and-hope
        return value

    @svc.api(input=Text(), output=JSON())
    def relay(url: str) -> Any:
        with Client.from_url(url, timeout=5) as client:
            return client.echo(1)

    @svc.api(input=JSON(), output=JSON())
    def call(value: Any) -> Any:  # a name the client already uses for itself
        return {"called": value}

    return svc


@pytest.fixture(scope="module")
def released() -> Iterator[threading.Event]:
    release = threading.Event()
    yield release
    release.set()


@pytest.fixture(scope="module")
def url(released: threading.Event) -> Iterator[str]:
    with live_server(build_app(service(released))) as base_url:
        yield base_url


def test_sync_methods_call_by_attribute_and_by_name(url: str) -> None:
    with Client.from_url(url) as client:
        assert client.echo({"a": [1, None]}) == {"a": [1, None]}
        assert client.call("shout", "hi") == "HI"
        assert client.endpoints == ["echo", "shout", "stall", "relay", "call"]
        # an API named like a client method stays reachable through call()
        assert client.call("call", 1) == {"called": 1}


def test_the_async_methods_work_from_one_event_loop_after_another(url: str) -> None:
    client = Client.from_url(url)

    async def twice() -> list[Any]:
        return [await client.async_echo(1), await client.async_call("shout", "a")]

    try:
        assert asyncio.run(twice()) == [1, "A"]
        # a new loop: the first loop's connections cannot serve it, the client makes new ones
        assert asyncio.run(twice()) == [1, "A"]
    finally:
        client.close()


def test_threads_with_loops_of_their_own_share_a_sync_client(url: str) -> None:
    client = Client.from_url(url)
    results: list[Any] = []

    async def calls(thread: int) -> list[Any]:
        return [await client.async_echo([thread, i]) for i in range(20)]

    def run(thread: int) -> None:
        results.append(asyncio.run(calls(thread)))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    client.close()
    assert sorted(results) == [[[n, i] for i in range(20)] for n in range(3)]


def test_the_async_client_in_its_context(url: str) -> None:
    async def main() -> list[Any]:
        async with await AsyncClient.from_url(url) as client:
            results = await asyncio.gather(*(client.echo(i) for i in range(5)))
            results.append(await client.call("shout", "b"))
            assert await client.is_ready()
            return results

    assert asyncio.run(main()) == [0, 1, 2, 3, 4, "B"]


def test_a_sync_client_used_inside_async_code_closes_with_its_loop(url: str) -> None:
    async def main() -> Any:
        async with Client.from_url(url) as client:
            return await client.async_shout("x")

    assert asyncio.run(main()) == "X"


def test_an_unknown_api_names_the_ones_there_are(url: str) -> None:
    with Client.from_url(url) as client, pytest.raises(InvalidArgument, match="no API 'nope'"):
        client.call("nope", 1)


def test_no_answer_in_time_is_a_timeout(url: str, released: threading.Event) -> None:
    with Client.from_url(url, timeout=0.5) as client, pytest.raises(ClientTimeoutError) as caught:
        client.stall(1)
    assert f"POST {url}/stall: no answer in time" in caught.value.message
    released.set()


def test_a_server_that_is_not_there_is_a_connection_error() -> None:
    port = free_port()
    with pytest.raises(ClientConnectionError, match=f"GET http://127.0.0.1:{port}/docs.json"):
        Client.from_url(f"127.0.0.1:{port}")

    async def main() -> None:
        await AsyncClient.from_url(f"http://127.0.0.1:{port}")

    with pytest.raises(ClientConnectionError):
        asyncio.run(main())


def test_a_client_error_inside_an_api_does_not_tell_the_caller_where_it_called(url: str) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}"
    with Client.from_url(url) as client, pytest.raises(ServerError) as caught:
        client.relay(elsewhere)
    error = caught.value
    assert (error.status, error.detail["exception"]) == (500, "ClientConnectionError")
    assert elsewhere not in str(error) and "127.0.0.1" not in error.message
    assert error.request_id is not None and error.request_id in error.message


def test_a_bad_url_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidArgument, match="is not a server's URL"):
        Client.from_url("ftp://host/x")


# -- servers that are no service, and readiness ---------------------------------------------------


def other_app(ready: threading.Event) -> Starlette:
    """A server that is not ours: it answers probes but has no bentoml document."""

    async def livez(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> PlainTextResponse:
        if ready.is_set():
            return PlainTextResponse("ok")
        return PlainTextResponse("runners not ready", status_code=503)

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse({"openapi": "3.0.0", "paths": {"/items": {"get": {}}}})

    routes = [Route("/livez", livez), Route("/readyz", readyz), Route("/openapi.json", openapi)]
    return Starlette(routes=routes)


@pytest.fixture
def other_url() -> Iterator[tuple[str, threading.Event]]:
    ready = threading.Event()
    with live_server(other_app(ready)) as base_url:
        yield base_url, ready


def test_a_server_without_docs_json_is_no_service(other_url: tuple[str, threading.Event]) -> None:
    base_url, _ = other_url
    with pytest.raises(ServiceDescriptionError, match=r"docs\.json answered 404 Not Found"):
        Client.from_url(base_url)


def test_waiting_for_readiness_gives_up_saying_what_it_last_saw(
    other_url: tuple[str, threading.Event],
) -> None:
    base_url, _ = other_url
    host, port = base_url.rsplit(":", 1)
    started = time.monotonic()
    with pytest.raises(ServerNotReady, match=r"did not answer 200 within 2 s; last: 503"):
        Client.wait_until_server_ready(host, int(port), timeout=2, check_interval=0.05)
    assert time.monotonic() - started < 10  # it gave up, generously soon

    async def wait() -> None:
        await AsyncClient.wait_until_server_ready(host, int(port), timeout=2)

    with pytest.raises(TimeoutError, match="runners not ready"):
        asyncio.run(wait())


def test_waiting_for_readiness_returns_once_ready(other_url: tuple[str, threading.Event]) -> None:
    base_url, ready = other_url
    host, port = base_url.rsplit(":", 1)
    threading.Timer(0.3, ready.set).start()
    Client.wait_until_server_ready(host, int(port), timeout=30, check_interval=0.05)
    assert ready.is_set()


def test_a_client_waits_for_its_own_server(url: str) -> None:
    with Client.from_url(url) as client:
        client.wait_until_server_ready(timeout=30)
        assert client.is_ready() and client.health().status_code == 200

    async def main() -> bool:
        async with await AsyncClient.from_url(url) as client:
            await client.wait_until_server_ready(timeout=30)
            return (await client.health()).status_code == 200

    assert asyncio.run(main())

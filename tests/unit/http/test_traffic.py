"""api_server.traffic over real HTTP: a request past ``timeout`` gets a 504 and the worker goes
on; past ``max_concurrency`` requests in progress a new one gets a 429, probes still answer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.http.uvicorn_protocol import http_protocol
from bentoml_classic.io import JSON, Text
from tests.support.configs import config_of
from tests.support.servers import live_server


def traffic_service() -> tuple[bentoml.Service, dict[str, object]]:
    svc = bentoml.Service("traffic")
    seen: dict[str, object] = {"cancelled": False, "release": threading.Event(), "holding": 0}

    @svc.api(input=JSON(), output=JSON())
    async def slow_async(seconds: float) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise
        return "done"

    @svc.api(input=JSON(), output=JSON())
    def slow_sync(seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    @svc.api(input=JSON(), output=JSON())
    async def held(payload: object) -> str:
        seen["holding"] = int(seen["holding"]) + 1  # type: ignore[call-overload]
        release = seen["release"]
        assert isinstance(release, threading.Event)
        while not release.is_set():
            await asyncio.sleep(0.01)
        return "released"

    @svc.api(input=Text(), output=Text())
    def echo(text: str) -> str:
        return text

    return svc, seen


@contextmanager
def served(options: str) -> Iterator[tuple[str, dict[str, object]]]:
    """The traffic service under a real uvicorn, configured with ``options``."""
    svc, seen = traffic_service()
    app = build_app(svc, config_of(options))
    release = seen["release"]
    assert isinstance(release, threading.Event)
    try:
        with live_server(app, http=http_protocol()) as url:
            yield url, seen
    finally:
        release.set()


@pytest.mark.parametrize("route", ["slow_async", "slow_sync"])
def test_a_request_past_the_timeout_gets_a_504_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    with served("api_server.traffic.timeout=0.5") as (url, seen):
        check_timeout(url, seen, route)


def check_timeout(url: str, seen: dict[str, object], route: str) -> None:
    started = time.monotonic()
    response = httpx.post(f"{url}/{route}", json=5, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["type"] == "GatewayTimeout"
    assert route in error["message"] and "api_server.traffic.timeout" in error["message"]
    assert error["detail"] == {"timeout": 0.5}
    assert elapsed < 4, elapsed  # answered at the deadline, not when the function ended
    if route == "slow_async":
        assert seen["cancelled"] is True  # the function saw the cancellation at its await
    assert httpx.post(f"{url}/echo", content="still here").text == "still here"


def test_past_max_concurrency_a_request_gets_a_429_and_probes_still_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with served("api_server.traffic.max_concurrency=2") as (url, seen):
        check_limit(url, seen)


def check_limit(url: str, seen: dict[str, object]) -> None:
    release = seen["release"]
    assert isinstance(release, threading.Event)
    with ThreadPoolExecutor(2) as executor:
        holders = [
            executor.submit(httpx.post, f"{url}/held", json={}, timeout=30) for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + 10
            while seen["holding"] != 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert seen["holding"] == 2
            refused = httpx.post(f"{url}/echo", content="x")
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            error = refused.json()["error"]
            assert error["type"] == "TooManyRequests"
            assert error["detail"] == {"max_concurrency": 2}
            assert httpx.get(f"{url}/livez").status_code == 200
            assert httpx.get(f"{url}/readyz").status_code == 200
        finally:
            release.set()  # also on failure: the holders must not keep the executor waiting
        assert [h.result().json() for h in holders] == ["released", "released"]
    assert httpx.post(f"{url}/echo", content="again").status_code == 200


def test_the_document_lists_429_only_when_a_limit_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with served("api_server.traffic.max_concurrency=2") as (url, _):
        operation = httpx.get(f"{url}/docs.json").json()["paths"]["/echo"]["post"]
    assert {"429", "504"} <= set(operation["responses"])


def test_without_a_limit_the_document_has_no_429() -> None:
    app = build_app(traffic_service()[0], config_of(""))
    with live_server(app) as url:
        operation = httpx.get(f"{url}/docs.json").json()["paths"]["/echo"]["post"]
    assert "429" not in operation["responses"]
    assert "504" in operation["responses"]  # every API has a timeout

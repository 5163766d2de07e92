"""A dependency's APIs served over the runner protocol (``ServiceServer``) on a real Unix
socket, called through the transport a worker attaches: concurrency, errors, streams, shedding."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import bentoml_classic as bentoml
from bentoml_classic.composition.handle import (
    DependencyError,
    attach_transport,
    detach_transport,
)
from bentoml_classic.composition.server import ServiceServer
from bentoml_classic.exceptions import BadInput, NotFound, ServiceUnavailable
from bentoml_classic.io import JSON, Text
from bentoml_classic.protocol.remote import RemoteRunnerHandle
from tests.support.waiting import WAIT

served = bentoml.Service("served_helper")
#: two sync calls meet here: each waits for the other, so they must run side by side
meeting = threading.Barrier(2, timeout=WAIT)
held = threading.Event()
release = threading.Event()


@served.api(input=JSON(), output=JSON())
def meet(value: Any) -> Any:
    meeting.wait()
    return value


@served.api(input=JSON(), output=JSON())
async def hold(value: Any) -> Any:
    held.set()
    await asyncio.to_thread(release.wait, WAIT)
    return value


@served.api(input=JSON(), output=JSON())
def refuse(value: Any) -> Any:
    raise BadInput(f"no {value}")


@served.api(input=JSON(), output=Text())
async def count(n: int) -> AsyncIterator[str]:
    for k in range(n):
        yield str(k)


dep = bentoml.depends(served)


@contextlib.contextmanager
def serving(tmp_path: pathlib.Path, max_concurrency: int | None = None) -> Iterator[None]:
    """The server on a loop in a background thread (its own process in production)."""
    import socket

    path = str(tmp_path / "svc.sock")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.listen()
    server = ServiceServer(served, {}, max_concurrency=max_concurrency)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(server.serve([sock], stop, 1.0)), daemon=True
    )
    thread.start()
    attach_transport("served_helper", RemoteRunnerHandle("served_helper", [f"file://{path}"]))
    try:
        yield
    finally:
        detach_transport("served_helper")
        loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT)
        server.shutdown()
        loop.close()


def test_sync_calls_run_side_by_side(tmp_path: pathlib.Path) -> None:
    with serving(tmp_path):
        results: list[Any] = []
        callers = [
            threading.Thread(target=lambda k=k: results.append(dep.meet.run(k))) for k in (1, 2)
        ]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(WAIT)
        assert sorted(results) == [1, 2]


def test_errors_keep_their_status_and_unknown_apis_are_404(tmp_path: pathlib.Path) -> None:
    with serving(tmp_path):
        with pytest.raises(DependencyError) as raised:
            dep.refuse.run("way")
        assert (raised.value.http_status, raised.value.message) == (400, "no way")
        transport = RemoteRunnerHandle("served_helper", [f"file://{tmp_path / 'svc.sock'}"])
        try:
            with pytest.raises(Exception) as missing:
                transport.run_method("nothing", (), {})
            assert getattr(missing.value, "http_status", None) == NotFound.status_code
        finally:
            transport.close()


def test_a_stream_crosses_item_by_item(tmp_path: pathlib.Path) -> None:
    with serving(tmp_path):
        assert list(dep.count.stream(3)) == ["0", "1", "2"]


def test_calls_over_max_concurrency_are_shed_with_a_503(tmp_path: pathlib.Path) -> None:
    held.clear()
    release.clear()
    with serving(tmp_path, max_concurrency=1):
        first: list[Any] = []
        caller = threading.Thread(target=lambda: first.append(dep.hold.run("first")))
        caller.start()
        try:
            assert held.wait(WAIT)
            with pytest.raises(ServiceUnavailable) as shed:
                dep.hold.run("second")
            assert shed.value.detail == {"service": "served_helper", "api": "hold"}
            assert shed.value.retry_after == 1
        finally:
            release.set()
            caller.join(WAIT)
        assert first == ["first"]


def test_a_dependency_that_is_down_is_a_503_naming_it(tmp_path: pathlib.Path) -> None:
    attach_transport(
        "served_helper", RemoteRunnerHandle("served_helper", [f"file://{tmp_path}/none.sock"])
    )
    try:
        with pytest.raises(ServiceUnavailable, match="service 'served_helper' is unavailable"):
            dep.refuse.run(1)
    finally:
        detach_transport("served_helper")

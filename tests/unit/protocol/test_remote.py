"""``RemoteRunnerHandle``: a runner attached to runner workers through both clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from bentoml_classic.exceptions import (
    InvalidArgument,
    RunnerError,
    ServiceUnavailable,
)
from bentoml_classic.protocol.async_client import AsyncRunnerClient
from bentoml_classic.protocol.remote import RemoteRunnerHandle
from bentoml_classic.runner import Runnable, Runner
from tests.support.waiting import WAIT
from tests.unit.protocol.served import (
    TOKEN,
    ServedRunner,
    async_client,
    run_async,
)

# -- RemoteRunnerHandle ----------------------------------------------------------------------


class EchoRunnable(Runnable):
    @Runnable.method
    def echo(self, value: Any) -> Any:
        raise AssertionError("runs in the runner server, never here")

    @Runnable.method
    def add(self, a: Any, b: Any = 0) -> Any:
        raise AssertionError("runs in the runner server, never here")

    @Runnable.method
    def count(self, n: int) -> Iterator[int]:
        raise AssertionError("runs in the runner server, never here")
        yield n


@contextlib.contextmanager
def remote_runner(url: str, token: bytes | None = None) -> Iterator[Runner]:
    runner = Runner(EchoRunnable, name="test_runner")
    runner.attach(RemoteRunnerHandle("test_runner", [url], token=token, timeout=WAIT))
    try:
        yield runner
    finally:
        runner.destroy()


def test_remote_handle_sync_and_async(runner: ServedRunner) -> None:
    with remote_runner(runner.url) as remote:
        assert remote.echo.run("x") == "x"
        assert remote.add.run(1, b=2) == 3

        async def scenario() -> tuple[Any, bool]:
            handle = remote.runner_handle
            assert isinstance(handle, RemoteRunnerHandle)
            try:
                return await remote.add.async_run(20, 22), await handle.is_ready(WAIT)
            finally:
                handle._async.close()  # its connections belong to this loop

        assert asyncio.run(scenario()) == (42, True)
        with pytest.raises(RunnerError) as caught:
            remote.add.run("a", b=1)
        assert caught.value.detail["exception"] == "TypeError"


def test_remote_handle_streams(runner: ServedRunner, caplog: pytest.LogCaptureFixture) -> None:
    with remote_runner(runner.url) as remote:
        assert list(remote.count.stream(3)) == [0, 1, 2]
        assert list(remote.count.run(2)) == [0, 1]  # run() of a generator method: its items

        async def scenario() -> list[Any]:
            handle = remote.runner_handle
            assert isinstance(handle, RemoteRunnerHandle)
            try:
                items = [item async for item in remote.count.async_stream(3)]
                items += [item async for item in await remote.count.async_run(2)]
                with caplog.at_level(logging.WARNING):
                    items += list(remote.count.stream(1))  # works, and warns once
                return items
            finally:
                handle._async.close()

        assert asyncio.run(scenario()) == [0, 1, 2, 0, 1, 0]
        assert "count.stream() was called inside an async API" in caplog.text
        assert "async for ... in async_stream" in caplog.text


def test_remote_handle_with_token(tcp_runner: ServedRunner) -> None:
    with remote_runner(tcp_runner.url, token=TOKEN) as remote:
        assert remote.echo.run(np.arange(3)).tolist() == [0, 1, 2]
    with (
        remote_runner(tcp_runner.url, token=b"nope") as remote,
        pytest.raises(ServiceUnavailable, match="BENTOML_RUNNER_TOKEN"),
    ):
        remote.echo.run(1)


def test_remote_handle_not_ready(socket_dir: pathlib.Path) -> None:
    handle = RemoteRunnerHandle("test_runner", [f"file://{socket_dir}/nobody.sock"])
    try:
        assert asyncio.run(handle.is_ready(1.0)) is False
    finally:
        handle.close()


def test_remote_handle_refuses_bad_addresses() -> None:
    with pytest.raises(InvalidArgument):
        RemoteRunnerHandle("test_runner", ["http://127.0.0.1:1"])
    with pytest.raises(InvalidArgument):
        RemoteRunnerHandle("test_runner", [])


def test_remote_handle_warns_once_about_run_on_the_event_loop(
    runner: ServedRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with remote_runner(runner.url) as remote:
        assert remote.echo.run(1) == 1
        assert not caplog.records

        async def scenario() -> list[Any]:
            return [remote.echo.run(2), remote.echo.run(3)]

        with caplog.at_level(logging.WARNING, logger="bentoml_classic.protocol.remote"):
            assert asyncio.run(scenario()) == [2, 3]
    warnings = [r for r in caplog.records if "async_run" in r.getMessage()]
    assert len(warnings) == 1
    assert "test_runner.echo" in warnings[0].getMessage()


@pytest.mark.parametrize("token", [b"wrong", None])
def test_ping_with_wrong_or_missing_token(tcp_runner: ServedRunner, token: bytes | None) -> None:
    async def scenario(client: AsyncRunnerClient) -> bool:
        return await client.ping(WAIT)

    assert run_async(scenario, async_client(tcp_runner.url, token=token)) is False
    assert run_async(scenario, async_client(tcp_runner.url, token=TOKEN)) is True

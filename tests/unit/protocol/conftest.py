"""Fixtures of the runner protocol tests: served runners on Unix sockets and TCP."""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.unit.protocol.served import TOKEN, ServedRunner


@pytest.fixture
def socket_dir(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    # AF_UNIX paths are limited to ~107 bytes; pytest's tmp_path can be longer
    if len(str(tmp_path / "runner.sock")) < 100:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="rs") as short:
        yield pathlib.Path(short)


@pytest.fixture
def make_runner(socket_dir: pathlib.Path) -> Iterator[Callable[..., ServedRunner]]:
    runners: list[ServedRunner] = []

    def make(transport: str, **options: Any) -> ServedRunner:
        runner = ServedRunner(transport, socket_dir / str(len(runners)), **options)
        (socket_dir / str(len(runners))).mkdir()
        runners.append(runner)
        runner.start()
        return runner

    try:
        yield make
    finally:
        for runner in runners:
            runner.stop()


@pytest.fixture(params=["unix", "tcp"])
def runner(
    request: pytest.FixtureRequest, make_runner: Callable[..., ServedRunner]
) -> ServedRunner:
    return make_runner(request.param)


@pytest.fixture(params=["unix", "tcp"])
def quick_runner(
    request: pytest.FixtureRequest, make_runner: Callable[..., ServedRunner]
) -> ServedRunner:
    """A runner that closes idle client connections 0.2 s after it is told to stop."""
    return make_runner(request.param, grace_seconds=0.2)


@pytest.fixture
def tcp_runner(make_runner: Callable[..., ServedRunner]) -> ServedRunner:
    return make_runner("tcp", token=TOKEN)

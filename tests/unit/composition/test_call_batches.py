"""A dependency's calls of one loop turn travel as one CALLS frame and come back as one RESULTS
frame (``protocol/call_batches.py``), while each call keeps its own answer, error, metrics and
cancellation: a real ``ServiceServer`` on a Unix socket, called through the transport a worker
attaches."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import trustme

import bentoml_classic as bentoml
from bentoml_classic.composition.handle import (
    DependencyError,
    attach_transport,
    detach_transport,
)
from bentoml_classic.composition.server import ServiceServer
from bentoml_classic.exceptions import BadInput
from bentoml_classic.io import JSON, NumpyNdarray
from bentoml_classic.protocol import call_batches, codec
from bentoml_classic.protocol.frame_reader import FrameReader
from bentoml_classic.protocol.remote import RemoteRunnerHandle
from bentoml_classic.protocol.tls import client_context, server_context
from tests.support.waiting import WAIT, wait_for
from tests.unit.protocol.served import TOKEN
from tests.unit.protocol.wire import feed, join

T = TypeVar("T")

batched = bentoml.Service("batched_helper")


@batched.api(input=NumpyNdarray(), output=NumpyNdarray())
async def double(array: np.ndarray) -> np.ndarray:
    return array * 2


@batched.api(input=NumpyNdarray(), output=NumpyNdarray())
async def positive(array: np.ndarray) -> np.ndarray:
    if array.sum() < 0:
        raise BadInput(f"negative sum {array.sum():g}")
    return array


@batched.api(input=NumpyNdarray(), output=JSON())
def described(array: np.ndarray) -> Any:
    return {"rows": len(array), "dtype": str(array.dtype)}


dep = bentoml.depends(batched)


class Counted:
    """Where a ``RequestMeter`` would count: each call's status, in order of answers."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.entered = 0

    def enter(self) -> None:
        self.entered += 1

    def leave(self, status: int, seconds: float) -> None:
        self.statuses.append(status)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceServer, str]]:
    """The server on a loop in a background thread (its own process in production)."""
    path = str(tmp_path_factory.mktemp("batches") / "svc.sock")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.listen()
    server = ServiceServer(batched, {}, meters={"positive": positive_meter})
    with serving(server, sock):
        yield server, path


@contextlib.contextmanager
def serving(server: ServiceServer, sock: socket.socket) -> Iterator[None]:
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(server.serve([sock], stop, 1.0)), daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT)
        server.shutdown()
        loop.close()


positive_meter = Counted()


def calling(path: str, body: Callable[[], Awaitable[T]], **transport_options: Any) -> T:
    """``body`` run on a loop of its own, through a transport attached for it (a client's
    connections belong to the loop that opened them), after one call opened the connection.
    ``path``: the server's Unix socket, or a ``tcps://`` address with ``transport_options``."""
    address = path if "://" in path else f"file://{path}"

    async def run() -> T:
        transport = RemoteRunnerHandle(
            "batched_helper", [address], gathers_calls=True, **transport_options
        )
        attach_transport("batched_helper", transport)
        try:
            await asyncio.wait_for(dep.double.async_run(np.ones(1)), WAIT)
            return await asyncio.wait_for(body(), WAIT)
        finally:
            detach_transport("batched_helper")

    return asyncio.run(run())


def _sent_calls_frames(server: ServiceServer) -> bool:
    return any(connection._results is not None for connection in list(server.connections))


def test_calls_of_one_turn_share_frames_and_each_gets_its_own_answer(
    served: tuple[ServiceServer, str],
) -> None:
    server, path = served
    arrays = [np.full((rows, 3), rows, dtype=np.float32) for rows in range(5)]  # 0 rows too
    wider = [np.arange(8, dtype=np.int64).reshape(2, 4) + k for k in range(3)]

    async def calls() -> tuple[list[Any], bool]:
        answers = await asyncio.gather(
            *(dep.double.async_run(array) for array in arrays + wider),
            dep.described.async_run(np.zeros((3, 2))),
            dep.double.async_run(array=np.ones(2)),  # a keyword: sent alone
        )
        return answers, _sent_calls_frames(server)

    (*doubled, description, alone), joined = calling(path, calls)
    for array, answer in zip(arrays + wider, doubled, strict=True):
        assert answer.dtype == array.dtype and answer.shape == array.shape
        np.testing.assert_array_equal(answer, array * 2)
    assert description == {"rows": 3, "dtype": "float64"}
    np.testing.assert_array_equal(alone, [2.0, 2.0])
    assert joined


def test_calls_of_one_turn_share_frames_over_tls(tmp_path: Path) -> None:
    """A dependency reached over TCP with TLS (``tcps://``, a token): the calls of one turn
    still leave as one CALLS frame, through TLS records, and each gets its own answer."""
    ca = trustme.CA()
    pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    sock = socket.socket(socket.AF_INET)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = ServiceServer(batched, {}, token=TOKEN, ssl_context=server_context(str(pem)))
    arrays = [np.full((rows, 3), rows, dtype=np.float32) for rows in range(1, 6)]
    arrays.append(np.arange(40_000, dtype=np.float64).reshape(-1, 4))  # its own frame, 320 KB

    async def calls() -> tuple[list[Any], bool]:
        answers = await asyncio.gather(*(dep.double.async_run(array) for array in arrays))
        return answers, _sent_calls_frames(server)

    with serving(server, sock):
        address = f"tcps://127.0.0.1:{sock.getsockname()[1]}"
        context = client_context(str(tmp_path / "ca.pem"))
        answers, joined = calling(address, calls, token=TOKEN, ssl_context=context)
    for array, answer in zip(arrays, answers, strict=True):
        assert answer.dtype == array.dtype
        np.testing.assert_array_equal(answer, array * 2)
    assert joined


def test_errors_metrics_and_cancellation_stay_per_call(served: tuple[ServiceServer, str]) -> None:
    _, path = served
    before = len(positive_meter.statuses)
    values = [1.0, -1.0, 2.0, -3.0, 4.0]

    async def calls() -> tuple[list[Any], bool]:
        left = asyncio.ensure_future(dep.positive.async_run(np.full((1, 2), 9.0)))
        tasks = [asyncio.ensure_future(dep.positive.async_run(np.full((1, 2), v))) for v in values]
        await asyncio.sleep(0)  # every call is gathered, none sent yet
        left.cancel()  # its call still leaves with the others; its answer is dropped
        answers = await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            await left
        return list(answers), left.cancelled()

    answers, cancelled = calling(path, calls)
    assert cancelled
    for value, answer in zip(values, answers, strict=True):
        if value < 0:
            assert isinstance(answer, DependencyError)
            assert (answer.http_status, answer.message) == (400, f"negative sum {2 * value:g}")
        else:
            np.testing.assert_array_equal(answer, np.full((1, 2), value))
    # the cancelled call ran too: six calls counted, each with its own status
    assert wait_for(lambda: len(positive_meter.statuses) - before >= 6)
    assert sorted(positive_meter.statuses[before:]) == [200, 200, 200, 200, 400, 400]


def test_a_batch_frame_round_trips_and_a_malformed_one_names_its_calls() -> None:
    arrays = [np.arange(rows * 2, dtype=np.float64).reshape(rows, 2) for rows in (1, 3, 2)]
    frame = call_batches.encode(codec.CALLS, "predict", [7, 8, 9], arrays)
    ((call_id, kind, buffers),) = feed(FrameReader(), join(frame))
    assert (call_id, kind) == (7, codec.CALLS)
    method, calls = call_batches.decode(buffers)
    assert method == "predict" and [c for c, _ in calls] == [7, 8, 9]
    for (_, view), array in zip(calls, arrays, strict=True):
        np.testing.assert_array_equal(view, array)
    wrong_rows = [memoryview(bytes(buffers[0][:-1]) + b"\x09"), *buffers[1:]]
    with pytest.raises(call_batches.Undecodable) as undecodable:
        call_batches.decode(wrong_rows)
    assert undecodable.value.call_ids == [7, 8, 9]
    with pytest.raises(codec.FrameError):
        call_batches.decode([memoryview(b"\x00" * 5), *buffers[1:]])
    assert call_batches.lone_array((np.ones(3),), {}, 0.0) is not None
    assert call_batches.lone_array((np.ones(3),), {}, 0.1) is None  # aged: CALL_AGED
    assert call_batches.lone_array((np.float64(1.0),), {}, 0.0) is None  # no rows
    assert call_batches.lone_array((np.ones(10_000),), {}, 0.0) is None  # large: own memory


def test_a_malformed_batch_frame_is_answered_call_by_call(
    served: tuple[ServiceServer, str],
) -> None:
    _, path = served
    frame = call_batches.encode(codec.CALLS, "double", [41, 42], [np.ones((1, 2))] * 2)
    ((_, _, buffers),) = feed(FrameReader(), join(frame))
    rows_too_many = struct.pack("!4I", 41, 42, 1, 2)  # 3 rows said, 2 sent
    body = codec.frame(41, codec.CALLS, [rows_too_many, *buffers[1:]])
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(WAIT)
        sock.connect(path)
        sock.sendall(join(body))
        reader = FrameReader()
        answers: list[tuple[int, int, list[memoryview]]] = []
        while len(answers) < 2:
            answers += feed(reader, sock.recv(65536))
    assert sorted(call_id for call_id, _, _ in answers) == [41, 42]
    for _, kind, error in answers:
        assert kind == codec.ERROR
        assert codec.decode_error(error)["status"] == 400

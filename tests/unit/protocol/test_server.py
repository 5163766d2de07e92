"""``RunnerServer`` over real sockets: the shared token and protocol version on TCP, graceful
stop, frames it cannot use, adaptive batching and metrics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import pathlib
import pickle
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.exceptions import (
    RunnerError,
    ServiceUnavailable,
)
from bentoml_classic.http.app import render_metrics
from bentoml_classic.http.errors import error_response
from bentoml_classic.http.threadpool import ThreadPool
from bentoml_classic.metrics import Counter
from bentoml_classic.metrics.builtin import runner_meter
from bentoml_classic.metrics.meters import flush_pending
from bentoml_classic.metrics.registry import exposition
from bentoml_classic.protocol import codec
from bentoml_classic.protocol.address import Address
from bentoml_classic.protocol.async_client import AsyncRunnerClient
from bentoml_classic.protocol.blocking_client import BlockingRunnerClient
from bentoml_classic.protocol.frame_reader import FrameReader
from bentoml_classic.protocol.remote import RemoteRunnerHandle
from bentoml_classic.runner import Runnable, Runner
from tests.support.metrics import Recorder, parse, value
from tests.support.waiting import WAIT
from tests.unit.protocol.served import (
    TOKEN,
    ServedRunner,
    async_client,
    blocking_client,
    run_async,
)
from tests.unit.protocol.wire import join

# -- the shared token on TCP -----------------------------------------------------------------


def test_right_token(tcp_runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> Any:
        assert await client.ping(WAIT)
        return await client.call("add", (1, 2), {})

    assert run_async(scenario, async_client(tcp_runner.url, token=TOKEN)) == 3
    with blocking_client(tcp_runner.url, token=TOKEN) as client:
        assert client.call("add", (3, 4), {}) == 7


@pytest.mark.parametrize("token", [b"wrong", None, b""])
def test_wrong_or_missing_token(tcp_runner: ServedRunner, token: bytes | None) -> None:
    async def scenario(client: AsyncRunnerClient) -> ServiceUnavailable:
        with pytest.raises(ServiceUnavailable) as caught:
            await client.call("echo", (1,), {})
        return caught.value

    error = run_async(scenario, async_client(tcp_runner.url, token=token))
    assert "BENTOML_RUNNER_TOKEN" in str(error)
    with blocking_client(tcp_runner.url, token=token) as client:
        with pytest.raises(ServiceUnavailable) as caught:
            client.call("echo", (1,), {})
        assert "BENTOML_RUNNER_TOKEN" in str(caught.value)
    assert tcp_runner.calls == []


def _connect(runner: ServedRunner) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", runner.port), timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_http_peer_gets_a_401(tcp_runner: ServedRunner) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: runner\r\n\r\n")
        response = _read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 401")
    assert b"content-length:" in response.lower()


class _TouchOnUnpickle:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (pathlib.Path.touch, (self.path,))


def _read_frames(sock: socket.socket) -> list[tuple[int, int, list[memoryview]]]:
    reader = FrameReader()
    frames = []
    while True:
        buffer = reader.get_buffer(-1)
        received = sock.recv_into(buffer)
        if not received:
            return frames
        frames += reader.buffer_updated(received)


def test_call_before_hello_is_never_unpickled(
    tcp_runner: ServedRunner, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(("echo", (_TouchOnUnpickle(marker),), {}), protocol=5)
    pickle.loads(pickle.dumps(_TouchOnUnpickle(tmp_path / "probe")))  # the trap works...
    assert (tmp_path / "probe").exists()
    with _connect(tcp_runner) as sock:
        sock.sendall(join(codec.frame(11, codec.CALL, [payload])))
        frames = _read_frames(sock)
    assert len(frames) == 1
    call_id, kind, buffers = frames[0]
    assert (call_id, kind) == (11, codec.ERROR)
    assert codec.decode_error(buffers)["status"] == 401
    assert not marker.exists()  # ...but the server never reached the unpickler
    assert tcp_runner.calls == []


def test_wrong_hello_then_call_in_one_packet(
    tcp_runner: ServedRunner, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(("echo", (_TouchOnUnpickle(marker),), {}), protocol=5)
    data = join(codec.frame(1, codec.HELLO, [b"not the token"])) + join(
        codec.frame(2, codec.CALL, [payload])
    )
    with _connect(tcp_runner) as sock:
        sock.sendall(data)
        frames = _read_frames(sock)
    assert [(call_id, kind) for call_id, kind, _ in frames] == [(1, codec.ERROR)]
    assert codec.decode_error(frames[0][2])["status"] == 401
    assert not marker.exists()


def test_hello_then_call_on_a_raw_socket(tcp_runner: ServedRunner) -> None:
    """The handshake as documented: HELLO with the token and the protocol version, answered
    HELLO, then calls."""
    with _connect(tcp_runner) as sock:
        sock.sendall(join(codec.frame(5, codec.HELLO, [TOKEN, codec.PROTOCOL_VERSION])))
        reader = FrameReader()
        frames: list[tuple[int, int, list[memoryview]]] = []
        while not frames:
            frames += reader.buffer_updated(sock.recv_into(reader.get_buffer(-1)))
        assert [(call_id, kind) for call_id, kind, _ in frames] == [(5, codec.HELLO)]
        sock.sendall(join(codec.encode(6, codec.CALL, ("add", (5, 6), {}))))
        frames = []
        while not frames:
            frames += reader.buffer_updated(sock.recv_into(reader.get_buffer(-1)))
        [(call_id, kind, buffers)] = frames
        assert (call_id, kind, codec.decode(kind, buffers)) == (6, codec.RESULT, 11)


@pytest.mark.parametrize(
    ("buffers", "named"),
    [
        ([TOKEN], "(none: an older release)"),
        ([TOKEN, b"bentoml_classic-runner/1"], "bentoml_classic-runner/1"),
    ],
)
def test_a_caller_speaking_another_protocol_is_told_so(
    tcp_runner: ServedRunner, buffers: list[bytes], named: str
) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(join(codec.frame(3, codec.HELLO, buffers)))
        frames = _read_frames(sock)
    [(call_id, kind, answer)] = frames
    assert (call_id, kind) == (3, codec.ERROR)
    error = codec.decode_error(answer)
    assert error["type"] == "ProtocolMismatch"
    assert named in error["message"]
    assert codec.PROTOCOL_VERSION.decode() in error["message"]
    assert "same bentoml_classic" in error["message"]


def test_both_clients_report_a_protocol_mismatch_by_name(
    tcp_runner: ServedRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hello_from_the_future(call_id: int, token: bytes) -> list[Any]:
        return codec.frame(call_id, codec.HELLO, [token, b"bentoml_classic-runner/99"])

    monkeypatch.setattr(codec, "hello", hello_from_the_future)
    with blocking_client(tcp_runner.url, token=TOKEN) as client, pytest.raises(RunnerError) as sync:
        client.call("echo", (1,), {})

    async def scenario(client: AsyncRunnerClient) -> None:
        with pytest.raises(RunnerError) as caught:
            await client.call("echo", (1,), {})
        assert "bentoml_classic-runner/99" in caught.value.message

    run_async(scenario, async_client(tcp_runner.url, token=TOKEN))
    assert sync.value.http_status == 500
    assert sync.value.detail["exception"] == "ProtocolMismatch"
    assert "bentoml_classic-runner/99" in sync.value.message
    assert "same bentoml_classic" in sync.value.message


def test_the_protocol_is_checked_only_after_the_token(tcp_runner: ServedRunner) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(join(codec.frame(4, codec.HELLO, [b"wrong", b"other/9"])))
        [(_, kind, answer)] = _read_frames(sock)
    assert kind == codec.ERROR
    assert codec.decode_error(answer)["status"] == 401


@pytest.mark.parametrize("size", [4097, 50_000_000, 2**32 - 1])
def test_oversized_first_frame_is_refused(tcp_runner: ServedRunner, size: int) -> None:
    with _connect(tcp_runner) as sock:
        sock.sendall(codec.HEADER.pack(size, 1, codec.HELLO, 1) + codec.BUFFER_LENGTH.pack(5))
        response = _read_until_closed(sock)  # the server hangs up, without waiting for more
    assert not response or response.startswith(b"HTTP/1.1 401")
    # and goes on serving everyone else
    with blocking_client(tcp_runner.url, token=TOKEN) as client:
        assert client.call("echo", ("still here",), {}) == "still here"


def test_frames_above_max_frame_size_close_the_connection(
    make_runner: Callable[..., ServedRunner],
) -> None:
    served = make_runner("unix")
    served.server.max_frame_size = 10_000
    with blocking_client(served.url) as client:
        with pytest.raises(ServiceUnavailable):
            client.call("echo", (b"x" * 20_000,), {})
        assert client.call("echo", (b"y" * 1000,), {}) == b"y" * 1000


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer closes ``sock`` (EOF or reset) before WAIT seconds pass."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_peer_that_sends_no_token_is_disconnected(
    make_runner: Callable[..., ServedRunner],
) -> None:
    served = make_runner("tcp", token=TOKEN, handshake_timeout=0.3)
    idle = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
    half = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
    try:
        half.sendall(join(codec.frame(1, codec.HELLO, [TOKEN[:3]]))[:10])  # part of a HELLO
        started = time.monotonic()
        assert _closed_by_peer(idle) and _closed_by_peer(half)
        assert time.monotonic() - started < WAIT
    finally:
        idle.close()
        half.close()
    with blocking_client(served.url, token=TOKEN) as client:  # a real caller is served
        time.sleep(0.5)  # past the handshake timeout: authenticated connections stay
        assert client.call("echo", ("still",), {}) == "still"


# -- graceful stop ---------------------------------------------------------------------------


def test_graceful_stop_finishes_the_call_in_flight_and_keeps_accepting_while_callers_remain(
    runner: ServedRunner,
) -> None:
    client = BlockingRunnerClient("test_runner", [Address.parse(runner.url)], None, WAIT)
    # one thread, so that both calls below use the same connection
    caller = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        in_flight = caller.submit(client.call, "slow", ("done",), {"seconds": 0.5})
        assert runner.started.wait(WAIT)
        runner.request_stop()
        assert in_flight.result(WAIT) == "done"
        # a draining API worker's new connection (a pool thread's first call) is still served
        with blocking_client(runner.url) as late:
            assert late.call("echo", ("late",), {}) == "late"
        # the open connection is served while the server drains ...
        assert caller.submit(client.call, "echo", ("draining",), {}).result(WAIT) == "draining"
        assert runner.join(0.05) is False  # ... and keeps it waiting
    finally:
        client.close()
        caller.shutdown()
    # once the last caller went away (and none came back for a moment), serve() returns well
    # before its grace period
    assert runner.join(WAIT)


def test_graceful_stop_async_call_in_flight(runner: ServedRunner) -> None:
    async def scenario(client: AsyncRunnerClient) -> None:
        assert await client.call("echo", ("warm",), {}) == "warm"
        pending = asyncio.ensure_future(client.call("slow", ("done",), {"seconds": 0.5}))
        assert await asyncio.to_thread(runner.started.wait, WAIT)
        runner.request_stop()
        assert await pending == "done"
        assert await client.call("echo", ("after",), {}) == "after"

    run_async(scenario, async_client(runner.url))
    assert runner.join(WAIT)


def test_a_stopped_server_with_no_callers_ends_after_the_quiet_period(
    make_runner: Callable[..., ServedRunner],
) -> None:
    served = make_runner("unix", grace_seconds=WAIT)
    started = time.monotonic()
    served.request_stop()
    assert served.join(WAIT)
    assert time.monotonic() - started < WAIT / 2  # the quiet period, not the grace period


def test_grace_period_expires(make_runner: Callable[..., ServedRunner]) -> None:
    served = make_runner("tcp", grace_seconds=0.2)
    with blocking_client(served.url) as client:
        assert client.call("echo", (1,), {}) == 1
        served.request_stop()
        # the client keeps its connection, but the server does not wait past the grace period
        assert served.join(WAIT)
        with pytest.raises(ServiceUnavailable):
            client.call("echo", (2,), {})


# -- frames the server cannot use ------------------------------------------------------------


def _fail_on_unpickle() -> None:
    raise ValueError("cannot rebuild this argument")


class _ExplodesOnUnpickle:
    def __reduce__(self) -> Any:
        return (_fail_on_unpickle, ())


def test_call_that_cannot_be_unpickled(runner: ServedRunner) -> None:
    with blocking_client(runner.url) as client:
        with pytest.raises(RunnerError) as caught:
            client.call("echo", (_ExplodesOnUnpickle(),), {})
        assert caught.value.http_status == 400
        assert "cannot rebuild this argument" in str(caught.value)
        assert runner.calls == []
        assert client.call("echo", ("fine",), {}) == "fine"


def _raw_exchange(
    served: ServedRunner, sent: list[bytes], count: int
) -> list[tuple[int, int, list[memoryview]]]:
    """Send ``sent`` (whole frames) on a fresh Unix connection; read ``count`` frames back."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT)
        sock.connect(served.path)
        for data in sent:
            sock.sendall(data)
        reader = FrameReader()
        frames: list[tuple[int, int, list[memoryview]]] = []
        while len(frames) < count:
            received = sock.recv_into(reader.get_buffer(-1))
            assert received, "the server hung up"
            frames += reader.buffer_updated(received)
    return frames


def test_unexpected_frame_kind(make_runner: Callable[..., ServedRunner]) -> None:
    served = make_runner("unix")
    sent = [
        join(codec.encode(3, codec.RESULT, "not a call")),
        join(codec.frame(4, codec.PING, [b""])),
    ]
    frames = _raw_exchange(served, sent, 2)
    assert [(call_id, kind) for call_id, kind, _ in frames] == [(3, codec.ERROR), (4, codec.PONG)]
    assert codec.decode_error(frames[0][2])["status"] == 400


# Regression: when connect() to a runner that was down failed, the blocking client raised
# ServiceUnavailable without closing its new socket, which the garbage collector then released
# with a ResourceWarning, once per failed call; the socket is now closed at once.
def test_failed_unix_connect_closes_its_socket(socket_dir: pathlib.Path) -> None:
    url = f"file://{socket_dir}/nobody.sock"
    gc.collect()  # what earlier tests left behind is not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with blocking_client(url) as client:
            for _ in range(3):
                with pytest.raises(ServiceUnavailable):
                    client.call("echo", (1,), {})
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- adaptive batching in the runner server --------------------------------------------------


def rows_of(i: int) -> np.ndarray:
    """Call i sends 1 or 2 rows whose values tell callers apart."""
    rows = 1 + i % 2
    return np.arange(2 * rows, dtype=np.float64).reshape(rows, 2) + 100 * i


async def _all_on_the_join(client: AsyncRunnerClient, count: int) -> None:
    """Until ``count`` calls are sent and the client's transport holds nothing back."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        connection = client._connections[0]
        if (
            connection is not None
            and connection.transport is not None
            and len(connection.pending) >= count
            and connection.transport.get_write_buffer_size() == 0
        ):
            break
        assert loop.time() < deadline, "the calls never left the client"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # margin for the loopback to hand the bytes over


async def _gated_calls(
    served: ServedRunner, client: AsyncRunnerClient, count: int, answered_early: int = 0
) -> list[Any]:
    """Call gated_double ``count`` times: the first call holds the model until all the others
    are on the wire (and ``answered_early`` of them answered without the model), so the server
    has queued them all when it is released."""
    first = asyncio.ensure_future(client.call("gated_double", (rows_of(0),), {}))
    assert await asyncio.to_thread(served.started.wait, WAIT)
    rest = [
        asyncio.ensure_future(client.call("gated_double", (rows_of(i),), {}))
        for i in range(1, count)
    ]
    if answered_early:
        # the server's loop is not held by the model: it answers what it can at once
        deadline = asyncio.get_running_loop().time() + WAIT
        while sum(call.done() for call in rest) < answered_early:
            assert asyncio.get_running_loop().time() < deadline, "no early answers"
            await asyncio.sleep(0.005)
        assert not first.done()
    else:
        await _all_on_the_join(client, count)
    served.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_batched_calls_are_answered_in_order_and_counted(
    make_runner: Callable[..., ServedRunner], transport: str
) -> None:
    histogram = Recorder()
    served = make_runner(
        transport,
        batch_policies={"gated_double": BatchPolicy(max_batch_size=4)},
        batch_sizes={"gated_double": histogram},
    )
    count = 7

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return await _gated_calls(served, client, count)

    results = run_async(scenario, async_client(served.url))
    for i, result in enumerate(results):
        assert isinstance(result, np.ndarray), result
        np.testing.assert_array_equal(result, rows_of(i) * 2)
        assert result.shape == rows_of(i).shape
    # call 0 ran alone; calls 1-6 (2, 1, 2, 1, 2, 1 rows) were queued together and joined in
    # arrival order into batches of at most 4 rows: [2, 1], then 2 more would make 5
    assert served.batch_rows == [1, 3, 3, 3]
    assert (histogram.count, histogram.total) == (4, 10)
    assert histogram.counts[:4] == [1, 0, 3, 0]  # le=1, le=2, le=4, le=8


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_time_a_call_waited_in_the_api_worker_counts_in_the_runner(
    make_runner: Callable[..., ServedRunner], transport: str
) -> None:
    # max_latency_ms bounds both queues together: a batch that already waited most of it in
    # an API worker's queue has only the rest left in the runner's.
    policy = BatchPolicy(max_batch_size=4, max_latency_s=1.0)
    served = make_runner(transport, batch_policies={"gated_double": policy})
    served.release.set()
    with blocking_client(served.url) as client:
        with pytest.raises(ServiceUnavailable, match="max_latency_ms of 1000") as caught:
            client.call("gated_double", (rows_of(1),), {}, waited=1.5)
        assert "waited 15" in str(caught.value)  # 1,500 ms and the few of the hop
        assert served.batch_rows == []  # it never ran
        result = client.call("gated_double", (rows_of(2),), {}, waited=0.25)
    np.testing.assert_array_equal(result, rows_of(2) * 2)
    assert served.batch_rows == [len(rows_of(2))]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_full_queue_sheds_calls_as_503_and_the_server_keeps_serving(
    make_runner: Callable[..., ServedRunner], transport: str
) -> None:
    policy = BatchPolicy(max_batch_size=2, max_queue_rows=2)
    histogram = Recorder()
    served = make_runner(
        transport, batch_policies={"gated_double": policy}, batch_sizes={"gated_double": histogram}
    )

    async def scenario(client: AsyncRunnerClient) -> tuple[Any, ...]:
        # the four calls that find the queue full are answered while the model still runs
        results = await _gated_calls(served, client, 6, answered_early=4)
        after = await client.call("gated_double", (rows_of(1),), {})
        return results, after, await client.ping(WAIT)

    results, after, alive = run_async(scenario, async_client(served.url))
    # call 0 ran at once; call 1 (2 rows) filled the queue; calls 2-5 found it full
    for i in (0, 1):
        np.testing.assert_array_equal(results[i], rows_of(i) * 2)
    for shed in results[2:]:
        assert type(shed) is ServiceUnavailable, shed  # not a RunnerError (500)
        assert shed.http_status == 503
        assert shed.retry_after == 1
        assert "queue is full" in shed.message
        assert shed.detail == {"runner": "test_runner", "method": "gated_double"}
        response = error_response(shed)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
    np.testing.assert_array_equal(after, rows_of(1) * 2)
    assert alive is True
    assert served.batch_rows == [1, 2, 2]  # shed calls never reached the method
    assert (histogram.count, histogram.total) == (3, 5)


def test_batching_leaves_other_methods_alone_and_ignores_unknown_names(
    make_runner: Callable[..., ServedRunner],
) -> None:
    policy = BatchPolicy(max_batch_size=2)
    histogram = Recorder()
    served = make_runner(
        "unix",
        batch_policies={"gated_double": policy, "no_such_method": policy},
        batch_sizes={"gated_double": histogram},
    )
    served.release.set()
    assert sorted(served.in_loop(lambda: list(served.server.batchers))) == ["gated_double"]

    async def scenario(client: AsyncRunnerClient) -> tuple[Any, ...]:
        echoed = await client.call("echo", ("plain",), {})
        doubled = await client.call("gated_double", (rows_of(3),), {})
        return echoed, doubled

    echoed, doubled = run_async(scenario, async_client(served.url))
    assert echoed == "plain"
    np.testing.assert_array_equal(doubled, rows_of(3) * 2)
    assert (histogram.count, histogram.total) == (1, 2)  # one batch of 2 rows; the echo was none


# -- requests counted, and the METRICS frame ------------------------------------------------


def test_each_call_and_stream_counts_as_a_request_with_its_status(
    make_runner: Callable[..., ServedRunner],
) -> None:
    methods = ["echo", "fail", "bad_input", "count"]
    meters = {name: runner_meter("metered_runner", name, "metered_svc") for name in methods}
    served = make_runner("unix", meters=meters)
    name = "bentoml_runner_request"
    labels = {"runner_name": "metered_runner", "service_name": "metered_svc"}

    def figures() -> list[tuple[str, dict[str, str], float]]:
        served.in_loop(flush_pending)  # what the server's loop holds, as a METRICS frame asks
        return parse(exposition().decode())

    before = figures()

    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        outcomes: list[Any] = [await client.call("echo", (i,), {}) for i in range(3)]
        for method in ("fail", "bad_input"):
            with pytest.raises(RunnerError):
                await client.call(method, ("no",), {})
        outcomes.append([item async for item in client.stream("count", (4,), {})])
        return outcomes

    assert run_async(scenario, async_client(served.url)) == [0, 1, 2, [0, 1, 2, 3]]
    after = figures()

    def counted(endpoint: str, status: str, sample: str = f"{name}_total") -> float:
        found = {"endpoint": endpoint, "http_response_code": status, **labels}
        return value(after, sample, **found) - value(before, sample, **found)

    assert counted("/echo", "200") == 3
    assert counted("/echo", "200", f"{name}_duration_seconds_count") == 3
    assert counted("/fail", "500") == 1
    assert counted("/bad_input", "400") == 1  # a BentoMLException keeps its status
    assert counted("/count", "200") == 1  # a stream is one request
    assert value(after, f"{name}_in_progress", **labels) == 0


def test_a_metrics_frame_has_the_figures_written_and_the_text_sent_when_asked(
    make_runner: Callable[..., ServedRunner],
) -> None:
    meters = {"echo": runner_meter("flushed_runner", "echo", "flushed_svc")}
    served = make_runner("unix", meters=meters)
    served_counter = Counter("served_by_test_runner", "A figure of the runner's process")
    served_counter.inc(3)
    total = "bentoml_runner_request_total"

    async def scenario(client: AsyncRunnerClient) -> tuple[Any, ...]:
        await client.call("echo", (1,), {})
        waiting = value(parse(exposition().decode()), total, runner_name="flushed_runner")
        return waiting, await client.metrics(WAIT), await client.metrics(WAIT, text=True)

    waiting, [nothing], [text] = run_async(scenario, async_client(served.url))
    assert waiting == 0  # held by the server until a timer or a METRICS frame
    assert nothing == b""  # written, and no text asked for
    assert text is not None
    samples = parse(text.decode())
    assert value(samples, total, runner_name="flushed_runner") == 1
    assert value(samples, "served_by_test_runner_total") >= 3


def test_metrics_of_a_worker_that_is_down_is_none(
    make_runner: Callable[..., ServedRunner], socket_dir: pathlib.Path
) -> None:
    served = make_runner("unix")
    addresses = [Address.parse(f"file://{socket_dir}/nobody.sock"), Address.parse(served.url)]

    async def scenario(client: AsyncRunnerClient) -> list[bytes | None]:
        return await client.metrics(1.0, text=True)

    down, up = run_async(scenario, AsyncRunnerClient("test_runner", addresses, None, WAIT))
    assert down is None
    assert up is not None and b"# TYPE" in up


@pytest.mark.parametrize("token", [b"wrong", None])
def test_metrics_need_the_token(tcp_runner: ServedRunner, token: bytes | None) -> None:
    async def scenario(client: AsyncRunnerClient) -> list[Any]:
        return await client.metrics(WAIT)

    assert run_async(scenario, async_client(tcp_runner.url, token=token)) == [None]
    assert run_async(scenario, async_client(tcp_runner.url, token=TOKEN)) != [None]


def test_malformed_array_frame_is_refused_and_the_connection_stays(
    make_runner: Callable[..., ServedRunner],
) -> None:
    served = make_runner("unix")
    sent = [
        # the frame itself is sound; the array header claims 3 int32 over 8 bytes
        join(codec.frame(21, codec.CALL, [b"\xa7echo\n<i4:3", b"\0" * 8])),
        join(codec.encode(22, codec.CALL, ("echo", (np.arange(3),), {}))),
    ]
    frames = _raw_exchange(served, sent, 2)
    assert [(call_id, kind) for call_id, kind, _ in frames] == [
        (21, codec.ERROR),
        (22, codec.RESULT),
    ]
    error = codec.decode_error(frames[0][2])
    assert (error["type"], error["status"]) == ("FrameError", 400)
    np.testing.assert_array_equal(codec.decode(codec.RESULT, frames[1][2]), np.arange(3))
    assert served.calls == ["echo"]  # only the sound call reached the method


class GatedRunnable(Runnable):
    @Runnable.method(batchable=True)
    def gated_double(self, x: Any) -> Any:
        raise AssertionError("runs in the runner server, never here")


def render(svc: bentoml.Service) -> str:
    pool = ThreadPool(1)

    async def rendered() -> bytes:
        try:
            return await render_metrics(svc, pool)
        finally:
            for runner in svc.runners:
                runner.runner_handle.close()  # its connections belong to this loop

    try:
        return asyncio.run(rendered()).decode()
    finally:
        pool.shutdown()
        for runner in svc.runners:
            runner.destroy()


@pytest.mark.parametrize("elsewhere", [True, False])
def test_render_metrics_merges_runner_servers_started_on_their_own(
    make_runner: Callable[..., ServedRunner],
    socket_dir: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
    elsewhere: bool,
) -> None:
    # The runner server shares this process, so its figures are this process's: merged in,
    # each shows twice its value. The first address answers nothing and is left out.
    figure = Counter("merged_figure", "Counted once here, reported by the runner server too")
    figure.inc(2)
    served = make_runner("unix")
    runner = Runner(GatedRunnable, name="test_runner")
    runner.attach(
        RemoteRunnerHandle(
            "test_runner",
            [f"file://{socket_dir}/nobody.sock", served.url],
            timeout=WAIT,
            metrics_elsewhere=elsewhere,
        )
    )
    with caplog.at_level("INFO"):
        text = render(bentoml.Service("metered", runners=[runner]))
    expected = value(parse(exposition().decode()), "merged_figure_total")
    assert value(parse(text), "merged_figure_total") == (2 * expected if elsewhere else expected)
    assert text.count("# TYPE merged_figure_total counter") == 1  # one family, merged
    assert "1 of 2 workers did not answer for /metrics" in caplog.text

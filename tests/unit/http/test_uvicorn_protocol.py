"""The uvicorn protocol that gathers a response's writes: what it hands the transport, and what a
client on a real socket receives through it (keep-alive, pipelining, streaming, large bodies,
Connection: close)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bentoml_classic.http.uvicorn_protocol import GatheringTransport, http_protocol
from tests.support.servers import live_server

# -- what the transport is handed ------------------------------------------------------------


class RecordingTransport:
    """Stands in for uvloop's transport: records what reaches it."""

    def __init__(self) -> None:
        self.handed: list[list[bytes]] = []
        self.events: list[str] = []
        self.closing = False

    def writelines(self, chunks: list[bytes]) -> None:
        self.handed.append(list(chunks))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def write_eof(self) -> None:
        self.events.append("eof")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


async def _one_turn() -> None:
    await asyncio.sleep(0)


def test_writes_of_one_loop_turn_are_handed_over_together() -> None:
    async def scenario() -> RecordingTransport:
        inner = RecordingTransport()
        transport = GatheringTransport(inner, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        assert inner.handed == []  # nothing yet: the turn is not over
        assert transport.get_write_buffer_size() == 7 + 19 + 4
        await _one_turn()
        assert inner.handed == [[b"HTTP/1.1 200 OK\r\n\r\n", b"body"]]
        transport.write(b"next")
        await _one_turn()
        return inner

    inner = asyncio.run(scenario())
    assert inner.handed[1] == [b"next"]


def test_a_large_pending_write_goes_out_at_once() -> None:
    async def scenario() -> None:
        inner = RecordingTransport()
        transport = GatheringTransport(inner, asyncio.get_running_loop())
        transport.write(b"head")
        transport.write(b"x" * (64 * 1024))
        assert inner.handed == [[b"head", b"x" * (64 * 1024)]]  # back-pressure is not delayed
        await _one_turn()
        assert len(inner.handed) == 1  # the scheduled flush finds nothing left

    asyncio.run(scenario())


def test_close_sends_what_was_written_first_and_abort_drops_it() -> None:
    async def scenario() -> None:
        inner = RecordingTransport()
        transport = GatheringTransport(inner, asyncio.get_running_loop())
        transport.write(b"last words")
        transport.close()
        assert inner.events == ["write", "close"]
        assert inner.handed == [[b"last words"]]

        aborted = RecordingTransport()
        transport = GatheringTransport(aborted, asyncio.get_running_loop())
        transport.write(b"never")
        transport.abort()
        await _one_turn()
        assert aborted.events == ["abort"]

        eof = RecordingTransport()
        transport = GatheringTransport(eof, asyncio.get_running_loop())
        transport.writelines([b"a", b"b"])
        transport.write_eof()
        assert eof.events == ["write", "eof"]
        assert eof.handed == [[b"a", b"b"]]

    asyncio.run(scenario())


def test_nothing_is_written_to_a_transport_that_is_closing() -> None:
    async def scenario() -> None:
        inner = RecordingTransport()
        transport = GatheringTransport(inner, asyncio.get_running_loop())
        transport.write(b"too late")
        inner.closing = True  # the peer went away meanwhile
        await _one_turn()
        assert inner.handed == []
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # delegated

    asyncio.run(scenario())


# -- through a real uvicorn on a real socket -------------------------------------------------

BIG = bytes(range(256)) * (5 * 1024 * 1024 // 256)


async def small(request: Request) -> Response:
    return JSONResponse({"n": int(request.query_params.get("n", "0"))})


async def big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(300):
            yield f"{i:05d}".encode() * 2000  # 10 kB each, no await in between

    return StreamingResponse(chunks(), media_type="text/plain")


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def livez(request: Request) -> Response:
    return Response(b"ok")


#: set by the client of /linger once it holds the response
RECEIVED = threading.Event()


class Linger:
    """Answers, then holds the event loop (no await) until the client says it has the answer:
    the response must leave when it is complete, not when the request's task has unwound."""

    def __init__(self) -> None:
        self.client_had_it: list[bool] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"here"})
        self.client_had_it.append(RECEIVED.wait(timeout=10))


LINGER = Linger()

APP = Starlette(
    routes=[
        Route("/linger", LINGER),
        Route("/small", small),
        Route("/big", big),
        Route("/stream", stream),
        Route("/echo", echo, methods=["POST"]),
        Route("/livez", livez),
    ]
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with live_server(APP, http=http_protocol(), lifespan="off") as url:
        yield url


def test_the_protocol_is_the_gathering_one() -> None:
    assert http_protocol().__name__ == "GatheringHttpToolsProtocol"


def test_keep_alive_answers_stay_in_order(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        for n in range(100):
            response = client.get("/small", params={"n": n})
            assert response.status_code == 200
            assert response.json() == {"n": n}
            assert int(response.headers["content-length"]) == len(response.content)


def test_large_and_streamed_bodies_arrive_whole(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/big").content == BIG
        streamed = client.get("/stream").content
        assert streamed == b"".join(f"{i:05d}".encode() * 2000 for i in range(300))
        payload = BIG[: 3 * 1024 * 1024]
        assert client.post("/echo", content=payload).content == payload


def _read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """Read ``count`` responses with Content-Length bodies off a raw socket."""
    data = b""
    bodies = []
    while len(bodies) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].lower()
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(data) >= head_end + 4 + length:
                bodies.append(data[head_end + 4 : head_end + 4 + length])
                data = data[head_end + 4 + length :]
                continue
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection early"
        data += chunk
    return bodies


def test_a_complete_response_leaves_before_the_handler_returns(base_url: str) -> None:
    RECEIVED.clear()
    with httpx.Client(base_url=base_url, timeout=20) as client:
        assert client.get("/linger").content == b"here"
        RECEIVED.set()
        assert client.get("/small").status_code == 200  # the handler has returned since
    assert LINGER.client_had_it == [True]


def test_pipelined_requests_are_answered_in_order(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        requests = b"".join(
            f"GET /small?n={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in range(5)
        )
        sock.sendall(requests)
        assert _read_responses(sock, 5) == [f'{{"n":{n}}}'.encode() for n in range(5)]


def test_connection_close_gets_the_whole_answer_before_the_close(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == BIG


# -- connections that never finish their headers -------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``seconds``."""
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass  # a 408 or the like would be fine too; what matters is the close
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_connection_without_complete_headers_is_closed_after_the_header_timeout() -> None:
    with live_server(APP, http=http_protocol(header_timeout=0.5), lifespan="off") as url:
        port = int(url.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port))
        partial = socket.create_connection(("127.0.0.1", port))
        partial.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")  # no blank line: not complete
        slow = socket.create_connection(("127.0.0.1", port))
        try:
            slow.sendall(b"GET /livez HTTP/1.1\r\n")
            slow.sendall(b"Host: x\r\n\r\n")  # complete in time: answered
            assert slow.recv(1024).startswith(b"HTTP/1.1 200")
            assert _closed_within(silent, 10) and _closed_within(partial, 10)
            # a kept-alive connection is timed again from its next request's first byte
            slow.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
            assert _closed_within(slow, 10)
            assert httpx.get(f"{url}/livez").status_code == 200  # the server goes on
        finally:
            for sock in (silent, partial, slow):
                sock.close()


def test_the_header_timeout_comes_from_the_configuration() -> None:
    from bentoml_classic.config import config_from_options

    config = config_from_options("api_server.http.header_timeout=2.5")
    assert config.api_server.http.header_timeout == 2.5
    assert http_protocol(config.api_server.http.header_timeout).header_timeout == 2.5
    assert http_protocol().header_timeout == 30.0


# -- a request that comes while the worker shuts down ---------------------------------------


@contextmanager
def uvicorn_server(app: Any, protocol: Any) -> Iterator[tuple[Any, int]]:
    """A real uvicorn on a free port in a thread, its Server object at hand (to shut it down)."""
    import uvicorn

    from tests.support.servers import free_port, wait_until_ready

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=protocol, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/livez", timeout=30, is_alive=thread.is_alive)
        yield server, port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _connected(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _read_all(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_request_on_an_idle_connection_after_shutdown_began_gets_a_503() -> None:
    lingering = type(
        "Lingering", (http_protocol(),), {"shutdown_linger_s": 5.0, "__module__": __name__}
    )
    app = Starlette(routes=[Route("/livez", livez)])
    with uvicorn_server(app, lingering) as (server, port), _connected(port) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_responses(sock, 1) == [b"ok"]  # kept alive, idle now
        server.should_exit = True
        started = time.monotonic()
        while _listening(port):  # the worker has begun to shut down
            assert time.monotonic() - started < 10
            time.sleep(0.02)
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        received = _read_all(sock)  # answered, then closed
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503") and b"connection: close" in head.lower()
    assert b"x-request-id" in head.lower() and b"retry-after: 1" in head.lower()
    assert json.loads(body)["error"]["type"] == "ServiceUnavailable"


def test_the_request_in_progress_when_shutdown_began_finishes_and_closes() -> None:
    entered, release = threading.Event(), threading.Event()

    async def slow(request: Request) -> Response:
        entered.set()
        await asyncio.to_thread(release.wait, 10)
        return Response(b"slow done")

    app = Starlette(routes=[Route("/slow", slow), Route("/livez", livez)])
    with uvicorn_server(app, http_protocol()) as (server, port), _connected(port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(10)
        server.should_exit = True
        time.sleep(0.3)
        release.set()
        received = _read_all(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b"slow done"
    assert b"connection: close" in head.lower()

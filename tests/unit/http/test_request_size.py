"""api_server.max_request_size over real HTTP: a body over the limit is a 413 envelope before it
is read (declared Content-Length) or as soon as the count passes the limit (chunked); a body at
the limit is served; the server goes on serving."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

import bentoml_classic as bentoml
from bentoml_classic.config import load_config
from bentoml_classic.http.app import build_app
from bentoml_classic.http.request_size import RequestSizeLimit
from bentoml_classic.io import JSON, Multipart, Text
from tests.support.configs import config_of
from tests.support.servers import live_server

LIMIT = 4096


def echo_service() -> bentoml.Service:
    svc = bentoml.Service("size_test")

    @svc.api(input=Text(), output=Text())
    def echo(text: str) -> str:
        return text

    @svc.api(input=Multipart(a=Text(), b=JSON()), output=JSON())
    def form(a: str, b: object) -> object:
        return {"a": len(a), "b": b}

    return svc


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with live_server(
        build_app(echo_service(), config_of(f"api_server.max_request_size={LIMIT}"))
    ) as url:
        yield url


def raw_exchange(base_url: str, head: bytes, body_chunks: list[bytes]) -> bytes:
    """Send ``head`` and then each chunk on a fresh connection; return all the server sent."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        received = b""
        while True:  # the 413 closes the connection, so read to the end
            data = sock.recv(65536)
            if not data:
                return received
            received += data


def parse_http(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, json.loads(body)


def assert_still_serving(base_url: str) -> None:
    response = httpx.post(f"{base_url}/echo", content=b"still here", timeout=10)
    assert (response.status_code, response.text) == (200, "still here")


def assert_413_envelope(status: int, headers: dict[str, str], body: dict[str, object]) -> None:
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert headers["x-request-id"]
    error = body["error"]
    assert isinstance(error, dict)
    assert error["type"] == "PayloadTooLarge"
    assert f"{LIMIT} bytes" in str(error["message"])
    assert "max_request_size" in str(error["message"])


def test_declared_content_length_over_the_limit_is_413_before_the_body_is_sent(
    base_url: str,
) -> None:
    # 100 MB announced, not one byte of it sent: the answer can only come from the header.
    head = (
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 100000000\r\n\r\n"
    )
    started = time.perf_counter()
    status, headers, body = parse_http(raw_exchange(base_url, head, []))
    elapsed = time.perf_counter() - started
    assert_413_envelope(status, headers, body)
    assert body["error"]["detail"] == {"limit": LIMIT, "content_length": 100_000_000}  # type: ignore[index]
    assert elapsed < 1.0
    assert_still_serving(base_url)


def test_one_byte_over_with_content_length_is_413(base_url: str) -> None:
    response = httpx.post(f"{base_url}/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "PayloadTooLarge"
    assert_still_serving(base_url)


def test_exactly_the_limit_is_served(base_url: str) -> None:
    response = httpx.post(f"{base_url}/echo", content=b"x" * LIMIT)
    assert (response.status_code, len(response.text)) == (200, LIMIT)


def test_chunked_body_over_the_limit_is_413_once_the_count_passes_it(base_url: str) -> None:
    head = (
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    # Just past the limit, and no terminating chunk: the server must not wait for the rest.
    chunks = [b"400\r\n" + b"y" * 1024 + b"\r\n"] * (LIMIT // 1024 + 1)
    status, headers, body = parse_http(raw_exchange(base_url, head, chunks))
    assert_413_envelope(status, headers, body)
    assert body["error"]["detail"] == {"limit": LIMIT}  # type: ignore[index]
    assert_still_serving(base_url)


def test_chunked_body_with_httpx_streaming(base_url: str) -> None:
    def stream(total: int) -> Iterator[bytes]:
        for _ in range(total // 512):
            yield b"z" * 512

    over = httpx.post(f"{base_url}/echo", content=stream(LIMIT + 512))
    assert over.status_code == 413
    assert over.json()["error"]["type"] == "PayloadTooLarge"
    under = httpx.post(f"{base_url}/echo", content=stream(LIMIT))
    assert (under.status_code, len(under.text)) == (200, LIMIT)
    assert_still_serving(base_url)


def test_multipart_over_the_limit_is_413_not_400(base_url: str) -> None:
    files = {"a": (None, "a" * LIMIT), "b": (None, "1")}
    response = httpx.post(f"{base_url}/form", files=files)
    assert response.status_code == 413
    small = httpx.post(f"{base_url}/form", files={"a": (None, "abc"), "b": (None, "[1]")})
    assert (small.status_code, small.json()) == (200, {"a": 3, "b": [1]})


@pytest.mark.parametrize("path", ["/no_such_route", "/healthz", "/docs.json"])
def test_every_route_is_covered(base_url: str, path: str) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {LIMIT + 1}\r\n\r\n".encode()
    status, headers, body = parse_http(raw_exchange(base_url, head, []))
    assert_413_envelope(status, headers, body)


def test_many_oversized_requests_leave_the_server_healthy(base_url: str) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n"
    for _ in range(50):
        assert parse_http(raw_exchange(base_url, head, []))[0] == 413
    assert_still_serving(base_url)
    assert httpx.get(f"{base_url}/readyz").status_code == 200


def test_the_limit_comes_from_the_configuration() -> None:
    app = build_app(echo_service(), config_of("api_server.max_request_size=1234"))
    limit_layer = app.app  # type: ignore[attr-defined]
    assert isinstance(limit_layer, RequestSizeLimit)
    assert limit_layer.max_bytes == 1234


def test_the_default_limit_is_20_mib() -> None:
    assert load_config().api_server.max_request_size == 20 * 1024 * 1024

"""The access log: what a line says, what it leaves out, and that its output never holds up a
request. Served by a real uvicorn with our protocol (``live_server``)."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

import bentoml_classic as bentoml
from bentoml_classic.config import AccessLogConfig, config_from_options
from bentoml_classic.http.access_log import AccessLog, AccessLogMiddleware
from bentoml_classic.http.app import build_app
from bentoml_classic.http.uvicorn_protocol import http_protocol
from bentoml_classic.io import Text
from tests.support.servers import live_server
from tests.support.waiting import wait_for

#: time, level, component, then the fields; the component is the default of a process whose
#: entry point did not name it (log_format.py)
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[INFO\] \[api_server\] "
    r"(?P<client>127\.0\.0\.1:\d+) \((?P<request>[^)]*)\) \((?P<response>[^)]*)\) "
    r"(?P<ms>\d+\.\d{3})ms \(request_id=(?P<request_id>[0-9A-Za-z._-]+)\)$"
)


class Output:
    """A stream for the writer thread: what it wrote, and a gate that can hold its writes."""

    def __init__(self) -> None:
        self.text = ""
        self.gate = threading.Event()
        self.gate.set()
        self.writes_started = 0

    def write(self, text: str) -> int:
        self.writes_started += 1
        self.gate.wait(30)
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        return self.text.splitlines()


async def echo(request: Request) -> Response:
    return PlainTextResponse(await request.body(), media_type="text/plain")


async def chunks(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cde", b"f"):
            yield part

    return StreamingResponse(parts(), media_type="application/octet-stream")


async def boom(request: Request) -> Response:
    raise RuntimeError("the handler failed")


async def alive(request: Request) -> Response:
    return PlainTextResponse("ok")


def plain_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/{name}/echo", echo, methods=["POST"]),
            Route("/chunks", chunks),
            Route("/boom", boom),
            Route("/livez", alive),
        ]
    )


@contextmanager
def logged_server(
    config: AccessLogConfig | None = None, capacity: int = 10_000
) -> Iterator[tuple[str, Output, AccessLog]]:
    output = Output()
    access_log = AccessLog(config, output, interval=0.01, capacity=capacity)
    access_log.start()
    try:
        app = AccessLogMiddleware(plain_app(), access_log)
        with live_server(app, http=http_protocol()) as url:
            yield url, output, access_log
    finally:
        output.gate.set()
        access_log.close()


def access_lines(output: Output, path: str) -> list[re.Match[str]]:
    found = [LINE.match(line) for line in output.lines()]
    return [m for m in found if m and f",path={path}" in m["request"] + ","]


def one_line(output: Output, path: str) -> re.Match[str]:
    assert wait_for(lambda: access_lines(output, path)), output.text
    (match,) = access_lines(output, path)
    return match


def test_a_line_says_who_asked_what_and_what_they_got() -> None:
    with logged_server() as (url, output, _):
        response = httpx.post(
            f"{url}/echo?token=secret-in-the-query",
            content=b"hello",
            headers={"content-type": "text/plain"},
        )
        assert response.status_code == 200
        line = one_line(output, "/echo")
    assert line["request"] == "scheme=http,method=POST,path=/echo,type=text/plain,length=5"
    assert line["response"] == "status=200,type=text/plain; charset=utf-8,length=5"
    assert line["request_id"] == response.headers["x-request-id"]
    assert 0 < float(line["ms"]) < 30_000
    assert "secret-in-the-query" not in output.text  # the path only, never the query
    assert "hello" not in output.text  # nor a body


def test_a_client_request_id_is_the_one_logged() -> None:
    with logged_server() as (url, output, _):
        httpx.post(f"{url}/echo", content=b"x", headers={"x-request-id": "trace-42.a"})
        assert one_line(output, "/echo")["request_id"] == "trace-42.a"


def test_the_content_fields_are_those_the_configuration_asks_for() -> None:
    config = AccessLogConfig(request_content_type=False, response_content_length=False)
    with logged_server(config) as (url, output, _):
        httpx.post(f"{url}/echo", content=b"hello", headers={"content-type": "text/plain"})
        line = one_line(output, "/echo")
    assert line["request"] == "scheme=http,method=POST,path=/echo,length=5"
    assert line["response"] == "status=200,type=text/plain; charset=utf-8"


def test_a_streamed_answer_counts_every_byte_sent() -> None:
    with logged_server() as (url, output, _):
        assert httpx.get(f"{url}/chunks").content == b"abcdef"
        line = one_line(output, "/chunks")
    assert line["request"] == "scheme=http,method=GET,path=/chunks,type=,length="
    assert line["response"] == "status=200,type=application/octet-stream,length=6"


def test_a_handler_that_raises_is_logged_with_the_500_the_client_got() -> None:
    with logged_server() as (url, output, _):
        response = httpx.get(f"{url}/boom")
        assert response.status_code == 500
        line = one_line(output, "/boom")
    assert line["response"].startswith("status=500,")
    assert "the handler failed" not in output.text


def test_a_path_cannot_forge_a_log_line() -> None:
    with logged_server() as (url, output, _):
        forged = "a%0A2026-01-01T00:00:00+0000 [INFO] [api_server] forged"
        assert httpx.post(f"{url}/{forged}/echo", content=b"x").status_code == 200
        line = one_line(output, "/a\\n2026-01-01T00:00:00+0000 [INFO] [api_server] forged/echo")
    assert line["response"].startswith("status=200")
    assert all(LINE.match(text) for text in output.lines()), output.text
    assert not any(text.startswith("2026-01-01") for text in output.lines())


def test_a_stuck_output_holds_up_no_request_and_what_it_drops_is_counted() -> None:
    """The writer's write blocks (a terminal nobody reads): requests are still answered at
    once; their lines wait, those past the capacity are dropped, and once the output moves
    again every request is either a line or counted in the warning."""
    with logged_server(capacity=5) as (url, output, _):
        output.gate.clear()
        writes_before = output.writes_started  # the readiness probes' lines
        with httpx.Client() as client:
            assert client.post(f"{url}/echo", content=b"first").status_code == 200
            stuck = wait_for(lambda: output.writes_started == writes_before + 1)
            assert stuck, "the writer never wrote"
            for _ in range(19):  # all while the writer is stuck in its write
                assert client.post(f"{url}/echo", content=b"x", timeout=5).status_code == 200
        output.gate.set()

        def accounted() -> int:
            warning = r"\[WARNING\] \[api_server\] (\d+) access log line\(s\)"
            dropped = re.findall(warning, output.text)
            return len(access_lines(output, "/echo")) + sum(int(n) for n in dropped)

        assert wait_for(lambda: accounted() == 20), output.text
    assert "dropped: the output did not keep up" in output.text
    assert len(access_lines(output, "/echo")) >= 5


def test_closing_writes_what_is_left() -> None:
    output = Output()
    access_log = AccessLog(None, output)  # never started: only close() writes
    app = AccessLogMiddleware(plain_app(), access_log)
    with live_server(app, http=http_protocol()) as url:
        httpx.post(f"{url}/echo", content=b"x")
    assert access_lines(output, "/echo") == []
    access_log.close()
    assert len(access_lines(output, "/echo")) == 1


def shouting_service(name: str) -> bentoml.Service:
    svc = bentoml.Service(name)

    @svc.api(input=Text(), output=Text())
    def shout(text: str) -> str:
        return text.upper()

    return svc


def test_build_app_logs_to_stdout_by_default_and_not_when_turned_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printed: list[str] = []

    def shout_lines() -> list[str]:
        printed.append(capsys.readouterr().out)
        return [line for line in "".join(printed).splitlines() if ",path=/shout," in line]

    with live_server(build_app(shouting_service("logged")), http=http_protocol()) as url:
        response = httpx.post(f"{url}/shout", content="hi")
        assert response.text == "HI"
        assert wait_for(shout_lines), "".join(printed)
    (line,) = shout_lines()
    assert LINE.match(line), line
    assert f"(request_id={response.headers['x-request-id']})" in line
    assert "(status=200,type=text/plain; charset=utf-8,length=2)" in line

    printed.clear()
    config = config_from_options("api_server.logging.access.enabled=false")
    with live_server(build_app(shouting_service("quiet"), config), http=http_protocol()) as url:
        assert httpx.post(f"{url}/shout", content="hi").text == "HI"
    assert shout_lines() == []  # the server has stopped (and flushed): anything logged is out

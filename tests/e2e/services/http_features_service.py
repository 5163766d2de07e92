"""A service that uses the classic HTTP surface: Context, streamed answers, a mounted ASGI app,
a mounted WSGI app and an ASGI middleware (CORS comes from the configuration)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import bentoml_classic as bentoml
from bentoml_classic.exceptions import StateException
from bentoml_classic.io import JSON, Text

#: how long the streaming API waits for the test's signal file before giving up
SIGNAL_WAIT_S = 30.0

svc = bentoml.Service("http_features")


@svc.on_startup
def remember(ctx: bentoml.Context) -> None:
    ctx.state["started_by_hook"] = True
    try:
        _ = ctx.request
    except StateException as exc:
        ctx.state["hook_request_error"] = str(exc)


@svc.api(input=JSON(), output=JSON())
def context(payload: Any, ctx: bentoml.Context) -> Any:
    ctx.response.status_code = 202
    ctx.response.headers.append("X-Custom-Header", "value")
    ctx.response.headers.append("X-Custom-Header", "again")
    ctx.response.cookies = [
        bentoml.Cookie(
            key="session",
            value="abc",
            max_age=None,
            expires=None,
            path="/context",
            domain=None,
            secure=True,
            httponly=True,
            samesite="None",
        )
    ]
    return {
        "query": dict(ctx.request.query_params),
        "header": ctx.request.headers.get("x-client"),
        "cookies": dict(ctx.request.cookies),
        "started_by_hook": ctx.state.get("started_by_hook"),
        "hook_request_error": ctx.state.get("hook_request_error"),
    }


@svc.api(input=Text(), output=Text())
def stream(signal_path: str) -> Iterator[str]:
    """Sends a first line, then waits for the test to create ``signal_path``."""
    yield "first\n"
    deadline = time.monotonic() + SIGNAL_WAIT_S
    while not os.path.exists(signal_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield "second\n" if os.path.exists(signal_path) else "no signal\n"


@svc.api(input=Text(), output=Text())
async def broken_stream(text: str) -> AsyncIterator[str]:
    yield "partial\n"
    raise RuntimeError(f"the stream broke on {text}")


async def ui_page(request: Request) -> Response:
    return PlainTextResponse(f"ui {request.url.path}")


svc.mount_asgi_app(Starlette(routes=[Route("/page", ui_page)]), path="/ui")


def legacy(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"wsgi {environ['PATH_INFO']}".encode()]


svc.mount_wsgi_app(legacy, path="/legacy")


class ServedBy:
    """Marks every answer with the process that gave it."""

    def __init__(self, app: ASGIApp, header: str) -> None:
        self.app = app
        self.header = header.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (self.header, str(os.getpid()).encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


svc.add_asgi_middleware(ServedBy, header="x-served-by")

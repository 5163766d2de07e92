"""Mounted ASGI and WSGI apps and ASGI middlewares, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import bentoml_classic as bentoml
from bentoml_classic.config import config_from_options
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.http.access_log import AccessLogMiddleware
from bentoml_classic.http.app import build_app
from bentoml_classic.http.dispatch import ApiDispatcher
from bentoml_classic.http.request_id import RequestIdMiddleware
from bentoml_classic.http.request_size import RequestSizeLimit
from bentoml_classic.io import JSON, Text
from tests.support.servers import live_server


def starlette_app() -> Starlette:
    async def hello(request: Request) -> Response:
        return JSONResponse({"from": "starlette", "path": request.url.path})

    async def fail(request: Request) -> Response:
        raise RuntimeError("the mounted app's own bug")

    return Starlette(routes=[Route("/hello", hello), Route("/fail", fail)])


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A minimal WSGI callable: echoes what it was asked, 404 for /missing."""
    if environ["PATH_INFO"] == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"wsgi has no such page"]
    body = f"wsgi {environ['REQUEST_METHOD']} {environ['SCRIPT_NAME']}|{environ['PATH_INFO']}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


class Tap:
    """A raw ASGI middleware: notes each HTTP request it sees and marks the answer."""

    def __init__(self, app: ASGIApp, tag: str, seen: list[tuple[str, str]]) -> None:
        self.app = app
        self.tag = tag
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen.append((self.tag, scope["path"]))

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-tap", self.tag.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


class Stamp(BaseHTTPMiddleware):
    """The Starlette way of writing one."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-stamp"] = "stamped"
        return response


def extended_service(seen: list[tuple[str, str]]) -> bentoml.Service:
    svc = bentoml.Service("extended")

    @svc.api(input=JSON(), output=JSON())
    def predict(payload: Any) -> Any:
        return {"api": payload}

    @svc.api(input=Text(), output=Text(), route="sub/inside")
    def inside(text: str) -> str:
        return f"api {text}"

    svc.mount_asgi_app(starlette_app(), path="/sub", name="sub")
    svc.mount_wsgi_app(wsgi_app, path="/")
    svc.add_asgi_middleware(Tap, tag="first", seen=seen)
    svc.add_asgi_middleware(Tap, tag="second", seen=seen)
    svc.add_asgi_middleware(Stamp)
    return svc


requests_seen: list[tuple[str, str]] = []


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with live_server(build_app(extended_service(requests_seen))) as url:
        yield url


def test_apis_and_probes_win_on_their_own_routes(base_url: str) -> None:
    assert httpx.post(f"{base_url}/predict", json=[1]).json() == {"api": [1]}
    assert httpx.post(f"{base_url}/sub/inside", content="x").text == "api x"
    assert httpx.get(f"{base_url}/livez").text == "ok"
    assert httpx.get(f"{base_url}/docs.json").json()["info"]["title"] == "extended"


def test_a_mounted_asgi_app_serves_its_routes_under_its_path(base_url: str) -> None:
    response = httpx.get(f"{base_url}/sub/hello")
    assert response.status_code == 200
    assert response.json() == {"from": "starlette", "path": "/sub/hello"}


def test_a_wsgi_app_at_the_root_serves_everything_else(base_url: str) -> None:
    assert httpx.get(f"{base_url}/page").text == "wsgi GET |/page"
    assert httpx.post(f"{base_url}/form", content=b"x").text == "wsgi POST |/form"
    # the API owns the POST on its route, not the route itself
    assert httpx.get(f"{base_url}/predict").text == "wsgi GET |/predict"


def test_a_mounted_app_s_errors_stay_its_own(base_url: str) -> None:
    missing = httpx.get(f"{base_url}/sub/nothing")
    assert missing.status_code == 404
    assert missing.text == "Not Found"  # Starlette's own, not our envelope
    wsgi_missing = httpx.get(f"{base_url}/missing")
    assert wsgi_missing.status_code == 404
    assert wsgi_missing.text == "wsgi has no such page"
    failed = httpx.get(f"{base_url}/sub/fail")
    assert failed.status_code == 500
    assert failed.text == "Internal Server Error"
    assert httpx.get(f"{base_url}/livez").status_code == 200


def test_middlewares_see_every_request_in_the_order_they_were_added(base_url: str) -> None:
    paths = ["/predict", "/livez", "/sub/hello", "/page"]
    for path in paths:
        requests_seen.clear()
        if path == "/predict":
            response = httpx.post(f"{base_url}{path}", json={})
        else:
            response = httpx.get(f"{base_url}{path}")
        assert response.status_code == 200
        assert requests_seen == [("first", path), ("second", path)]
        # the first added is outermost: it marks the answer last
        assert response.headers.get_list("x-tap") == ["second", "first"]
        assert response.headers["x-stamp"] == "stamped"
        assert response.headers["x-request-id"]


def test_an_api_s_errors_still_pass_through_the_middlewares(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/predict", content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "BadInput"
    assert response.headers["x-stamp"] == "stamped"


def test_without_middlewares_the_request_path_is_the_bare_stack() -> None:
    svc = bentoml.Service("plain")

    @svc.api(input=Text(), output=Text())
    def echo(text: str) -> str:
        return text

    # the access log (on by default, as in classic) takes the request ids' place, so both
    # stacks are three layers deep
    app = build_app(svc)
    assert isinstance(app, AccessLogMiddleware)
    assert isinstance(app.app, RequestSizeLimit)
    assert isinstance(app.app.app, ApiDispatcher)
    quiet = build_app(svc, config_from_options("api_server.logging.access.enabled=false"))
    assert isinstance(quiet, RequestIdMiddleware)
    assert isinstance(quiet.app, RequestSizeLimit)
    assert isinstance(quiet.app.app, ApiDispatcher)


@pytest.mark.parametrize("path", ["sub", 5, None])
def test_a_mount_path_must_start_with_a_slash(path: Any) -> None:
    svc = bentoml.Service("bad_mount")
    with pytest.raises(InvalidArgument, match="must be a string that starts with '/'"):
        svc.mount_asgi_app(starlette_app(), path=path)


def test_only_callables_can_be_mounted_or_added_as_middleware() -> None:
    svc = bentoml.Service("bad_mount")
    with pytest.raises(InvalidArgument, match="cannot mount"):
        svc.mount_wsgi_app("not an app", path="/x")
    with pytest.raises(InvalidArgument, match="takes a middleware class"):
        svc.add_asgi_middleware("not a class")  # type: ignore[arg-type]
    assert svc.mount_apps == [] and svc.middlewares == []

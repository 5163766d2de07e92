"""api_server.http.cors over real HTTP: preflights and simple requests, allowed and refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import bentoml_classic as bentoml
from bentoml_classic.config import CorsConfig
from bentoml_classic.http.app import build_app
from bentoml_classic.http.cors import cors_options
from bentoml_classic.io import JSON
from tests.support.configs import config_of
from tests.support.servers import live_server

ALLOWED = "http://ok.example"
REFUSED = "http://evil.example"
CORS_ON = " ".join(
    [
        "api_server.http.cors.enabled=true",
        f'api_server.http.cors.access_control_allow_origins=["{ALLOWED}"]',
        "api_server.http.cors.access_control_allow_methods=GET,POST",
        "api_server.http.cors.access_control_allow_headers=[X-Token]",
        "api_server.http.cors.access_control_allow_credentials=true",
        "api_server.http.cors.access_control_max_age=123",
        "api_server.http.cors.access_control_expose_headers=[X-Request-ID]",
    ]
)


class NeedsToken:
    """An authentication middleware: refuses a request without X-Token (preflights carry none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and scope["path"] == "/guarded"
        if guarded and not any(name == b"x-token" for name, _ in scope["headers"]):
            await JSONResponse({"refused": True}, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def cors_service() -> bentoml.Service:
    svc = bentoml.Service("cors_service")

    @svc.api(input=JSON(), output=JSON())
    def predict(payload: Any) -> Any:
        return {"echo": payload}

    @svc.api(input=JSON(), output=JSON())
    def guarded(payload: Any) -> Any:
        return {"guarded": payload}

    svc.add_asgi_middleware(NeedsToken)
    return svc


def preflight(url: str, origin: str, method: str = "POST", headers: str = "") -> httpx.Response:
    request_headers = {"origin": origin, "access-control-request-method": method}
    if headers:
        request_headers["access-control-request-headers"] = headers
    return httpx.options(url, headers=request_headers)


@pytest.fixture(scope="module")
def cors_url() -> Iterator[str]:
    with live_server(build_app(cors_service(), config_of(CORS_ON))) as url:
        yield url


def test_an_allowed_preflight_is_answered_with_the_configured_headers(cors_url: str) -> None:
    response = preflight(f"{cors_url}/predict", ALLOWED, headers="X-Token")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert "x-token" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-max-age"] == "123"
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("origin", "method", "headers", "refused"),
    [
        (REFUSED, "POST", "", "origin"),
        (ALLOWED, "DELETE", "", "method"),
        (ALLOWED, "POST", "X-Other", "headers"),
    ],
)
def test_a_refused_preflight_is_a_400_envelope_naming_what_was_asked(
    cors_url: str, origin: str, method: str, headers: str, refused: str
) -> None:
    response = preflight(f"{cors_url}/predict", origin, method, headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "BadInput"
    assert "CORS preflight refused" in error["message"]
    assert refused in error["message"]
    assert error["detail"]["origin"] == origin
    assert error["detail"]["method"] == method
    assert "access-control-allow-origin" not in response.headers
    # the worker keeps serving
    assert httpx.post(f"{cors_url}/predict", json=1).json() == {"echo": 1}


def test_a_simple_request_from_an_allowed_origin_gets_the_cors_headers(cors_url: str) -> None:
    response = httpx.post(f"{cors_url}/predict", json=[1], headers={"origin": ALLOWED})
    assert response.status_code == 200
    assert response.json() == {"echo": [1]}
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "X-Request-ID"


def test_a_simple_request_from_a_refused_origin_gets_none(cors_url: str) -> None:
    response = httpx.post(f"{cors_url}/predict", json=[1], headers={"origin": REFUSED})
    # the browser withholds the answer from the page; the server answers as usual
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_probes_and_errors_carry_the_cors_headers_too(cors_url: str) -> None:
    probe = httpx.get(f"{cors_url}/livez", headers={"origin": ALLOWED})
    assert probe.headers["access-control-allow-origin"] == ALLOWED
    bad = httpx.post(
        f"{cors_url}/predict",
        content=b"{",
        headers={"origin": ALLOWED, "content-type": "application/json"},
    )
    assert bad.status_code == 400
    assert bad.headers["access-control-allow-origin"] == ALLOWED


def test_cors_answers_preflights_before_the_user_s_middlewares(cors_url: str) -> None:
    assert preflight(f"{cors_url}/guarded", ALLOWED).status_code == 200
    refused = httpx.post(f"{cors_url}/guarded", json=1, headers={"origin": ALLOWED})
    assert refused.status_code == 401
    # so a page can read the middleware's refusal
    assert refused.headers["access-control-allow-origin"] == ALLOWED


def test_cors_is_off_by_default() -> None:
    with live_server(build_app(cors_service())) as url:
        response = preflight(f"{url}/predict", ALLOWED)
        assert response.status_code == 405  # no OPTIONS route: the usual envelope
        assert response.json()["error"]["type"] == "MethodNotAllowed"
        assert "access-control-allow-origin" not in response.headers
        simple = httpx.post(f"{url}/predict", json=1, headers={"origin": ALLOWED})
        assert "access-control-allow-origin" not in simple.headers


def test_an_origin_regex_and_a_wildcard() -> None:
    options = " ".join(
        [
            "api_server.http.cors.enabled=true",
            r"api_server.http.cors.access_control_allow_origin_regex=https://.*\.my_org\.com",
            "api_server.http.cors.access_control_allow_methods='*'",
        ]
    )
    with live_server(build_app(cors_service(), config_of(options))) as url:
        allowed = preflight(f"{url}/predict", "https://app.my_org.com", method="PUT")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.my_org.com"
        assert preflight(f"{url}/predict", "https://my_org.com.evil.example").status_code == 400
    wildcard = (
        "api_server.http.cors.enabled=true api_server.http.cors.access_control_allow_origins='*'"
    )
    with live_server(build_app(cors_service(), config_of(wildcard))) as url:
        response = httpx.post(f"{url}/predict", json=1, headers={"origin": REFUSED})
        assert response.headers["access-control-allow-origin"] == "*"


def test_unset_keys_keep_starlette_s_defaults_and_strings_are_lists() -> None:
    assert cors_options(CorsConfig()) is None
    assert cors_options(CorsConfig(enabled=False, access_control_allow_origins="*")) is None
    assert cors_options(CorsConfig(enabled=True)) == {}
    options = cors_options(
        CorsConfig(
            enabled=True,
            access_control_allow_origins="https://a.example, https://b.example",
            access_control_allow_methods=["GET"],
            access_control_max_age=0,
            access_control_allow_credentials=False,
        )
    )
    assert options == {
        "allow_origins": ["https://a.example", "https://b.example"],
        "allow_methods": ["GET"],
        "max_age": 0,
        "allow_credentials": False,
    }

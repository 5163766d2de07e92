"""The Context as the classic guide uses it, over real HTTP: request headers, query parameters
and cookies; response status, multi-valued headers and cookies; state shared with the hooks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.exceptions import StateException
from bentoml_classic.http.app import build_app
from bentoml_classic.io import JSON, NumpyNdarray, Text
from tests.support.servers import live_server


class Doubler(bentoml.Runnable):
    @bentoml.Runnable.method(batchable=False)
    def double(self, x: np.ndarray) -> np.ndarray:
        return x * 2


def context_service() -> tuple[bentoml.Service, bentoml.Runner]:
    runner = bentoml.Runner(Doubler, name="ctx_doubler")
    svc = bentoml.Service("context_service", runners=[runner])

    @svc.on_startup
    def remember(ctx: bentoml.Context) -> None:
        ctx.state["greeting"] = "hello"
        try:
            _ = ctx.request
        except StateException as exc:
            ctx.state["hook_request_error"] = str(exc)

    @svc.api(input=JSON(), output=JSON())
    def echo(payload: object, ctx: bentoml.Context) -> object:
        request = ctx.request
        ctx.response.status_code = 202
        ctx.response.headers.append("X-Custom-Header", "value")
        ctx.response.headers.append("X-Custom-Header", "second")
        ctx.response.headers["X-Replaced"] = "first"
        ctx.response.headers["X-Replaced"] = "last"
        ctx.response.cookies = [
            bentoml.Cookie(
                key="session",
                value="abc",
                max_age=None,
                expires=None,
                path="/echo",
                domain=None,
                secure=True,
                httponly=True,
                samesite="None",
            )
        ]
        ctx.response.set_cookie("theme", "dark", max_age=60)
        return {
            "header": request.headers.get("x-client"),
            "query": dict(request.query_params),
            "cookies": dict(request.cookies),
            "greeting": ctx.state["greeting"],
        }

    @svc.api(input=Text(), output=Text())
    def hook_error(_: str, ctx: bentoml.Context) -> str:
        return str(ctx.state.get("hook_request_error"))

    @svc.api(input=Text(), output=Text())
    def typed(_: str, ctx: bentoml.Context) -> str:
        # a header the function names replaces the descriptor's
        ctx.response.headers["Content-Type"] = "text/markdown; charset=utf-8"
        return "# title"

    @svc.api(input=Text(), output=Text())
    def untouched(text: str, ctx: bentoml.Context) -> str:
        return text

    @svc.api(input=Text(), output=Text())
    def bad_cookie(_: str, ctx: bentoml.Context) -> str:
        ctx.response.cookies = [bentoml.Cookie("k", "v", samesite="sometimes")]
        return "unreachable"

    @svc.api(input=NumpyNdarray(dtype="float64"), output=NumpyNdarray())
    def double(x: np.ndarray, ctx: bentoml.Context) -> np.ndarray:
        ctx.response.headers["X-Rows"] = str(len(x))
        return runner.double.run(x)

    return svc, runner


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    svc, _ = context_service()
    with live_server(build_app(svc)) as url:
        yield url


def test_the_guide_s_context_example_works(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/echo?a=1&b=two",
        json={},
        headers={"x-client": "probe"},
        cookies={"visitor": "v1"},
    )
    assert response.status_code == 202
    assert response.json() == {
        "header": "probe",
        "query": {"a": "1", "b": "two"},
        "cookies": {"visitor": "v1"},
        "greeting": "hello",
    }
    assert response.headers.get_list("x-custom-header") == ["value", "second"]
    assert response.headers.get_list("x-replaced") == ["last"]
    set_cookies = response.headers.get_list("set-cookie")
    assert len(set_cookies) == 2
    session = next(c for c in set_cookies if c.startswith("session=abc"))
    attributes = {part.strip().lower() for part in session.split(";")}
    assert {"path=/echo", "secure", "httponly", "samesite=none"} <= attributes
    assert any(c.startswith("theme=dark") and "Max-Age=60" in c for c in set_cookies)
    assert response.headers["x-request-id"]


def test_a_lifecycle_hook_reading_the_request_is_told_no_request_is_served(
    base_url: str,
) -> None:
    response = httpx.post(f"{base_url}/hook_error", content="x")
    assert response.status_code == 200
    assert "no request is being served" in response.text


def test_a_header_set_in_the_context_replaces_the_descriptor_s(base_url: str) -> None:
    response = httpx.post(f"{base_url}/typed", content="x")
    assert response.headers.get_list("content-type") == ["text/markdown; charset=utf-8"]
    assert response.text == "# title"


def test_an_api_that_leaves_the_response_alone_answers_as_before(base_url: str) -> None:
    response = httpx.post(f"{base_url}/untouched", content="same")
    assert response.status_code == 200
    assert response.text == "same"
    assert "set-cookie" not in response.headers


def test_a_bad_cookie_is_a_500_naming_value_error_and_the_server_keeps_serving(
    base_url: str,
) -> None:
    response = httpx.post(f"{base_url}/bad_cookie", content="x")
    assert response.status_code == 500
    assert response.json()["error"]["detail"]["exception"] == "ValueError"
    assert httpx.post(f"{base_url}/untouched", content="ok").text == "ok"


def test_an_api_function_can_be_called_by_hand_with_a_context_after_init_local() -> None:
    svc, runner = context_service()
    runner.init_local(quiet=True)
    try:
        ctx = bentoml.Context()
        result = svc.apis["double"].func(np.array([1.0, 2.0]), ctx)
        assert result.tolist() == [2.0, 4.0]
        assert ctx.response.headers["x-rows"] == "2"
    finally:
        runner.destroy()

"""Context, ResponseContext and Cookie: what an API function sees and sets."""

from __future__ import annotations

import pytest
from starlette.datastructures import MutableHeaders

import bentoml_classic as bentoml
from bentoml_classic.context import Context, Cookie, ResponseContext, response_wanted
from bentoml_classic.exceptions import StateException


def test_public_exports() -> None:
    assert bentoml.Context is Context
    assert bentoml.Cookie is Cookie


def test_cookie_defaults() -> None:
    cookie = Cookie("session", "abc")
    assert (cookie.key, cookie.value) == ("session", "abc")
    assert cookie.max_age is None
    assert cookie.expires is None
    assert cookie.path == "/"
    assert cookie.domain is None
    assert cookie.secure is False
    assert cookie.httponly is False
    assert cookie.samesite == "lax"


@pytest.mark.parametrize("samesite", ["None", "none", "LAX", "Strict"])
def test_cookie_takes_samesite_in_any_case(samesite: str) -> None:
    cookie = Cookie(key="k", value="v", path="/predict", secure=True, samesite=samesite)
    assert cookie.samesite == samesite


@pytest.mark.parametrize("samesite", ["sometimes", "", None])
def test_cookie_refuses_an_unknown_samesite_naming_the_cookie(samesite: object) -> None:
    with pytest.raises(ValueError, match=r"Cookie 'k': samesite must be one of"):
        Cookie("k", "v", samesite=samesite)  # type: ignore[arg-type]


def test_response_context_defaults() -> None:
    response = ResponseContext()
    assert response.status_code == 200
    assert response.header_items() == []
    assert response.cookies_set() == []
    assert isinstance(response.headers, MutableHeaders)
    assert response.cookies == []


def test_response_headers_are_multi_valued_and_case_insensitive() -> None:
    headers = ResponseContext().headers
    headers.append("X-Custom-Header", "value")
    headers.append("x-custom-header", "other")
    headers["X-Single"] = "1"
    headers["x-single"] = "2"  # item assignment replaces
    assert headers.getlist("X-CUSTOM-HEADER") == ["value", "other"]
    assert headers.get("x-single") == "2"
    assert headers.get("missing", "default") == "default"
    assert headers.getlist("x-single") == ["2"]


def test_response_headers_and_cookies_may_be_assigned() -> None:
    response = ResponseContext()
    response.headers = {"x-a": "1"}
    assert response.header_items() == [("x-a", "1")]
    response.headers = [("x-b", "1"), ("x-b", "2")]
    assert response.headers.getlist("x-b") == ["1", "2"]
    cookie = Cookie(key="k", value="v", samesite="None")
    response.cookies = [cookie]
    response.set_cookie("second", "2")
    assert [c.key for c in response.cookies_set()] == ["k", "second"]


def test_response_context_defaults_are_not_shared() -> None:
    first, second = ResponseContext(), ResponseContext()
    first.headers["x"] = "1"
    first.set_cookie("a", "b")
    assert second.header_items() == []
    assert second.cookies_set() == []


def test_set_cookie_appends_in_order_with_options() -> None:
    response = ResponseContext()
    response.set_cookie("a", "1")
    response.set_cookie("b", "2", max_age=60, httponly=True, secure=True, samesite="strict")
    response.set_cookie("a", "3")
    assert [(c.key, c.value) for c in response.cookies] == [("a", "1"), ("b", "2"), ("a", "3")]
    second = response.cookies[1]
    assert second == Cookie("b", "2", max_age=60, httponly=True, secure=True, samesite="strict")
    assert response.cookies[0].httponly is False


def test_set_cookie_refuses_unknown_options() -> None:
    response = ResponseContext()
    with pytest.raises(TypeError):
        response.set_cookie("a", "1", max_agee=3)
    assert response.cookies == []


def test_context_holds_request_state_and_a_fresh_response() -> None:
    state: dict[str, object] = {"model": "loaded"}
    ctx = Context(None, state)
    assert ctx.state is state
    assert isinstance(ctx.response, ResponseContext)
    assert ctx.response.status_code == 200

    ctx.state["count"] = 1
    assert state["count"] == 1

    other = Context(None, state)
    ctx.response.status_code = 201
    ctx.response.headers["x-a"] = "b"
    assert other.response.status_code == 200
    assert other.response.header_items() == []
    assert other.state is state


def test_context_with_no_arguments_is_for_calling_an_api_function_by_hand() -> None:
    ctx = bentoml.Context()
    assert ctx.state == {}
    assert ctx.has_request is False
    assert bentoml.Context().state is not ctx.state
    ctx.response.headers.append("X-Custom-Header", "value")
    assert ctx.response.headers.getlist("x-custom-header") == ["value"]


def test_reading_the_request_without_one_says_no_request_is_served() -> None:
    with pytest.raises(StateException, match="no request is being served"):
        _ = Context(state={}).request
    # what classic code caught there
    with pytest.raises(LookupError):
        _ = Context().request


def test_the_response_is_made_only_when_touched() -> None:
    ctx = Context(None, {})
    assert response_wanted(ctx) is None
    response = ctx.response
    assert response_wanted(ctx) is response
    # touching the response makes no headers or cookies
    assert response.header_items() == [] and response.cookies_set() == []


def test_context_has_slots_only() -> None:
    ctx = Context(None, {})
    with pytest.raises(AttributeError):
        ctx.something_else = 1  # type: ignore[attr-defined]
    ctx.response = ResponseContext(status_code=204)
    assert ctx.response.status_code == 204

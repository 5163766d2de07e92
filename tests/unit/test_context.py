"""Context, ResponseContext and Cookie: what an API function sees and sets."""

from __future__ import annotations

import pytest

import bentoml_classic as bentoml
from bentoml_classic.context import Context, Cookie, ResponseContext


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


def test_response_context_defaults() -> None:
    response = ResponseContext()
    assert response.status_code == 200
    assert response.headers == {}
    assert response.cookies == []


def test_response_context_defaults_are_not_shared() -> None:
    first, second = ResponseContext(), ResponseContext()
    first.headers["x"] = "1"
    first.set_cookie("a", "b")
    assert second.headers == {}
    assert second.cookies == []


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
    assert ctx.request is None
    assert ctx.state is state
    assert isinstance(ctx.response, ResponseContext)
    assert ctx.response.status_code == 200

    ctx.state["count"] = 1
    assert state["count"] == 1

    other = Context(None, state)
    ctx.response.status_code = 201
    ctx.response.headers["x-a"] = "b"
    assert other.response.status_code == 200
    assert other.response.headers == {}
    assert other.state is state


def test_context_has_slots_only() -> None:
    ctx = Context(None, {})
    with pytest.raises(AttributeError):
        ctx.something_else = 1  # type: ignore[attr-defined]
    ctx.response = ResponseContext(status_code=204)
    assert ctx.response.status_code == 204

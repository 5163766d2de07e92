"""Error answers and transport failures as the client's errors; an API function that lets one
of them escape is answered as a plain 500 that does not name the URL it called."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bentoml_classic.client.endpoint import NOTHING, Endpoint
from bentoml_classic.client.errors import (
    ClientConnectionError,
    ClientRequestError,
    ClientResponseError,
    ClientTimeoutError,
    ServerError,
    response_error,
    transport_errors,
)
from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.http.errors import from_user_exception

URL = "http://internal-host:3000/classify"


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers=headers or {}, request=httpx.Request("POST", URL)
    )


def test_a_4xx_envelope_is_a_request_error_with_everything_in_it() -> None:
    envelope = {"error": {"type": "BadInput", "message": "shape", "detail": {"shape": [1]}}}
    error = response_error("classify", _answer(400, envelope, {"x-request-id": "abc123"}))
    assert isinstance(error, ClientRequestError) and isinstance(error, BentoMLException)
    assert (error.status, error.error_type, error.message) == (400, "BadInput", "shape")
    assert (error.detail, error.request_id, error.api) == ({"shape": [1]}, "abc123", "classify")
    assert str(error) == (
        f"API 'classify' at {URL} answered 400 BadInput: shape, request id abc123"
    )


def test_a_5xx_is_a_server_error_carrying_its_headers() -> None:
    envelope = {"error": {"type": "ServiceUnavailable", "message": "runner down"}}
    error = response_error("classify", _answer(503, envelope, {"retry-after": "1"}))
    assert isinstance(error, ServerError)
    assert (error.error_type, error.detail, error.headers["retry-after"]) == (
        "ServiceUnavailable",
        None,
        "1",
    )


def test_an_answer_that_is_no_envelope_still_says_what_came() -> None:
    error = response_error("classify", _answer(502, b"<html>Bad Gateway</html>"))
    assert isinstance(error, ServerError)
    assert (error.error_type, error.message) == ("HTTP 502", "<html>Bad Gateway</html>")
    other = response_error("classify", _answer(302, b""))
    assert type(other) is ClientResponseError and other.message == "Found"


def test_transport_failures_are_connection_errors() -> None:
    expected = "POST x: ConnectError: refused"
    with pytest.raises(ClientConnectionError, match=expected), transport_errors("POST x"):
        raise httpx.ConnectError("refused")
    with pytest.raises(ClientTimeoutError) as caught, transport_errors("POST x"):
        raise httpx.ReadTimeout("slow")
    assert isinstance(caught.value, TimeoutError)


def test_a_client_error_raised_by_an_api_function_is_answered_without_its_url() -> None:
    error = response_error("classify", _answer(400, {"error": {"type": "T", "message": "m"}}))
    answered = from_user_exception(error, "outer", development=False, request_id="r1")
    assert answered.http_status == 500
    body = json.dumps(answered.to_payload())
    assert "internal-host" not in body
    assert answered.detail == {"exception": "ClientRequestError", "request_id": "r1"}


# -- how a call's arguments become the input -----------------------------------------------------


def _endpoint(input_spec: dict[str, Any]) -> Endpoint:
    from bentoml_classic.client.description import ApiDescription

    api = ApiDescription("api", "/api", None, input_spec, {"id": "bentoml.io.JSON"}, ())
    return Endpoint.of(api)


JSON_SPEC = {"id": "bentoml.io.JSON", "args": {}}
PARTS_SPEC = {"id": "bentoml.io.Multipart", "args": {"a": JSON_SPEC, "b": JSON_SPEC}}


def test_one_input_positionally_or_as_one_keyword() -> None:
    endpoint = _endpoint(JSON_SPEC)
    assert endpoint.request([1], {})[0] == b"[1]"
    assert endpoint.request(NOTHING, {"input_data": [2]})[0] == b"[2]"
    assert endpoint.request(None, {})[0] == b"null"
    with pytest.raises(InvalidArgument, match="takes one input; none was given"):
        endpoint.request(NOTHING, {})
    with pytest.raises(InvalidArgument, match=r"1 positional and the keywords \['x'\]"):
        endpoint.request(1, {"x": 2})


def test_parts_only_as_keywords() -> None:
    endpoint = _endpoint(PARTS_SPEC)
    content, headers = endpoint.request(NOTHING, {"a": 1, "b": [2]})
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="a"' in content and b'name="b"' in content
    with pytest.raises(InvalidArgument, match=r"pass its parts as keyword arguments \(a, b\)"):
        endpoint.request({"a": 1, "b": 2}, {})


def test_a_value_the_codec_cannot_send_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="cannot send set as JSON: Object of type set"):
        _endpoint(JSON_SPEC).request({1, 2}, {})

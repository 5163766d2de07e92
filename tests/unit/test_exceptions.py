"""The exception tree: HTTP statuses, the JSON envelope and the class hierarchy."""

from __future__ import annotations

import json

import pytest

from bentoml_classic import exceptions
from bentoml_classic.exceptions import (
    BadArchive,
    BadInput,
    BentoMLConfigException,
    BentoMLException,
    BentoNotFound,
    GatewayTimeout,
    ImportServiceError,
    InternalServerError,
    InvalidArgument,
    MethodNotAllowed,
    ModelNotFound,
    NotFound,
    PayloadTooLarge,
    RunnerError,
    ServiceUnavailable,
    StateException,
    TooManyRequests,
    UnsupportedMediaType,
)

STATUS_CODES: dict[type[BentoMLException], int] = {
    BentoMLException: 500,
    BadInput: 400,
    InvalidArgument: 400,
    BentoMLConfigException: 400,
    NotFound: 404,
    ModelNotFound: 404,
    BentoNotFound: 404,
    BadArchive: 400,
    MethodNotAllowed: 405,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyRequests: 429,
    InternalServerError: 500,
    StateException: 500,
    ImportServiceError: 500,
    RunnerError: 500,
    ServiceUnavailable: 503,
    GatewayTimeout: 504,
}


@pytest.mark.parametrize(("cls", "status"), list(STATUS_CODES.items()))
def test_status_code(cls: type[BentoMLException], status: int) -> None:
    assert cls.status_code == status
    assert cls("boom").status_code == status


def test_every_exception_class_is_covered() -> None:
    defined = {
        value
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, BentoMLException)
    }
    assert defined == set(STATUS_CODES)


@pytest.mark.parametrize("cls", list(STATUS_CODES))
def test_all_derive_from_bentoml_exception_and_exception(cls: type[BentoMLException]) -> None:
    assert issubclass(cls, BentoMLException)
    assert issubclass(cls, Exception)


def test_tree() -> None:
    assert issubclass(BentoMLConfigException, InvalidArgument)
    assert issubclass(ModelNotFound, NotFound)
    assert not issubclass(BadInput, InvalidArgument)
    assert not issubclass(InvalidArgument, BadInput)
    assert not issubclass(ModelNotFound, InvalidArgument)
    with pytest.raises(InvalidArgument):
        raise BentoMLConfigException("bad config")
    with pytest.raises(NotFound):
        raise ModelNotFound("no model iris:latest")


@pytest.mark.parametrize("cls", list(STATUS_CODES))
def test_payload_without_detail(cls: type[BentoMLException]) -> None:
    exc = cls("something went wrong")
    assert exc.to_payload() == {"error": {"type": cls.__name__, "message": "something went wrong"}}


def test_payload_with_detail() -> None:
    detail = {"field": "x", "expected": "float64"}
    exc = BadInput("wrong dtype", detail=detail)
    payload = exc.to_payload()
    assert payload == {"error": {"type": "BadInput", "message": "wrong dtype", "detail": detail}}
    assert json.loads(json.dumps(payload)) == payload


@pytest.mark.parametrize("detail", [0, "", [], {}, False])
def test_falsy_detail_is_still_included(detail: object) -> None:
    payload = BadInput("x", detail=detail).to_payload()
    assert "detail" in payload["error"]
    assert payload["error"]["detail"] == detail


def test_error_type_names_the_subclass() -> None:
    class CustomError(NotFound):
        pass

    exc = CustomError("nope")
    assert exc.error_type == "CustomError"
    assert exc.status_code == 404
    assert exc.to_payload()["error"]["type"] == "CustomError"


def test_message_and_detail_attributes() -> None:
    exc = InternalServerError("model crashed", detail={"type": "ZeroDivisionError"})
    assert exc.message == "model crashed"
    assert str(exc) == "model crashed"
    assert exc.args == ("model crashed",)
    assert exc.detail == {"type": "ZeroDivisionError"}
    assert BadInput("x").detail is None


def test_detail_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        BadInput("x", {"a": 1})  # type: ignore[misc]


def test_runner_error_answers_with_the_remote_status() -> None:
    assert RunnerError("remote BadInput", status=400).http_status == 400
    assert RunnerError("remote ValueError").http_status == 500


def test_only_shedding_errors_ask_clients_to_retry() -> None:
    """503 (runner down, queue full) and 429 (worker at max_concurrency) are worth retrying."""
    assert ServiceUnavailable.retry_after == 1
    assert TooManyRequests.retry_after == 1
    retried = {cls for cls in STATUS_CODES if cls.retry_after is not None}
    assert retried == {ServiceUnavailable, TooManyRequests}

"""A dependency called in this process (``init_local()``, ``--development``): through the
runner protocol's encoding, with the errors a caller would get from the dependency's workers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.composition.handle import DependencyError, detach_transport
from bentoml_classic.context import Context, NoRequestError
from bentoml_classic.exceptions import BadInput
from bentoml_classic.io import JSON, NumpyNdarray, Text

helper = bentoml.Service("local_helper")


@helper.api(input=NumpyNdarray(), output=NumpyNdarray())
def double(x: np.ndarray) -> np.ndarray:
    return x * 2


@helper.api(input=JSON(), output=JSON())
async def same(value: Any) -> Any:
    return value


@helper.api(input=JSON(), output=JSON())
def identity(value: Any) -> Any:
    """Returns its argument itself: whether the caller gets a copy shows the encoding."""
    return value


@helper.api(input=JSON(), output=JSON())
def refuse(value: Any) -> Any:
    raise BadInput(f"no {value}")


@helper.api(input=JSON(), output=JSON())
def crash(value: Any) -> Any:
    raise KeyError(value)


@helper.api(input=JSON(), output=JSON())
def give_back_a_lock(value: Any) -> Any:
    return threading.Lock()


@helper.api(input=JSON(), output=JSON())
def look_at_context(value: Any, ctx: Context) -> dict[str, Any]:
    ctx.state["seen"] = ctx.state.get("seen", 0) + 1
    try:
        _ = ctx.request
    except NoRequestError:
        return {"request": None, "seen": ctx.state["seen"]}
    return {"request": "present"}


@helper.api(input=JSON(), output=Text())
def count(n: int) -> Iterator[str]:
    yield from (str(k) for k in range(n))


@helper.api(input=JSON(), output=Text())
async def count_async(n: int) -> AsyncIterator[str]:
    for k in range(n):
        yield str(k)


dep = bentoml.depends(helper)


@pytest.fixture(autouse=True)
def fresh_transport() -> Iterator[None]:
    detach_transport("local_helper")
    yield
    detach_transport("local_helper")


def test_sync_and_async_calls_give_the_function_result() -> None:
    assert dep.double.run(np.arange(3)).tolist() == [0, 2, 4]
    assert dep.same.run({"a": 1}) == {"a": 1}  # an async API from sync code
    assert asyncio.run(dep.double.async_run(np.ones(2))).tolist() == [2.0, 2.0]
    assert asyncio.run(dep.same.async_run([1, "x"])) == [1, "x"]


def test_arguments_and_results_cross_as_copies() -> None:
    value = {"nested": [1, 2]}
    answer = dep.identity.run(value)
    assert answer == value and answer is not value


def test_a_bentoml_exception_keeps_its_type_status_and_message() -> None:
    with pytest.raises(DependencyError) as raised:
        dep.refuse.run("thanks")
    assert raised.value.http_status == 400
    assert raised.value.error_type == "BadInput"
    assert raised.value.message == "no thanks"
    assert raised.value.detail == {
        "exception": "BadInput",
        "service": "local_helper",
        "api": "refuse",
    }


def test_another_exception_is_a_500_naming_its_type() -> None:
    with pytest.raises(DependencyError) as raised:
        asyncio.run(dep.crash.async_run("k"))
    assert raised.value.http_status == 500
    assert raised.value.detail["exception"] == "KeyError"


def test_values_that_cannot_cross_fail_as_in_production() -> None:
    with pytest.raises(DependencyError, match="cannot be sent to the service") as raised:
        dep.identity.run(threading.Lock())
    assert raised.value.detail["exception"] in {"TypeError", "PicklingError"}
    with pytest.raises(DependencyError, match="cannot be sent back") as raised:
        dep.give_back_a_lock.run(None)
    assert raised.value.http_status == 500


def test_the_context_has_no_request_and_a_state_of_the_service() -> None:
    assert dep.look_at_context.run(None) == {"request": None, "seen": 1}
    assert dep.look_at_context.run(None) == {"request": None, "seen": 2}


def test_streams_from_sync_and_async_code() -> None:
    assert list(dep.count.stream(3)) == ["0", "1", "2"]
    assert list(dep.count_async.stream(2)) == ["0", "1"]

    async def collect(api: Any, n: int) -> list[str]:
        return [item async for item in api.async_stream(n)]

    assert asyncio.run(collect(dep.count, 2)) == ["0", "1"]
    assert asyncio.run(collect(dep.count_async, 3)) == ["0", "1", "2"]

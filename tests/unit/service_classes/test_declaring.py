"""``@bentoml.service`` and ``@bentoml.api``: what a class declares, and the start-up errors
that name the class or the method at import time."""

from __future__ import annotations

from typing import Any

import pytest

import bentoml_classic as bentoml
from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io.typed import SignatureError
from bentoml_classic.service_classes import ClassService


@bentoml.service(name="declared", workers=3, traffic={"timeout": 600, "max_concurrency": 4})
class Declared:
    """A service declared as a class."""

    @bentoml.api
    def plain(self, text: str) -> str:
        return text

    @bentoml.api(route="/v1/renamed", name="renamed")
    async def original(self, number: int = 1) -> int:
        return number

    def helper(self) -> None:
        """Not an API: no decorator."""


def test_the_decorator_builds_a_classic_service_of_the_class() -> None:
    assert isinstance(Declared, bentoml.Service) and isinstance(Declared, ClassService)
    assert Declared.name == "declared"
    assert list(Declared.apis) == ["plain", "renamed"]
    assert Declared.apis["renamed"].route == "v1/renamed"
    assert Declared.apis["renamed"].is_async and not Declared.apis["plain"].is_async
    assert Declared.options.workers == 3
    assert (Declared.options.timeout, Declared.options.max_concurrency) == (600, 4)
    assert Declared.__doc__ == "A service declared as a class."


def test_a_bare_decorator_names_the_service_after_the_class() -> None:
    @bentoml.service
    class MyModel:
        @bentoml.api
        def predict(self, value: float) -> float:
            return value

    assert MyModel.name == "mymodel" and MyModel.options.workers == 1


def test_resources_are_read_and_gpu_type_and_memory_recorded() -> None:
    @bentoml.service(
        resources={"gpu": "2", "cpu": "500m", "gpu_type": "nvidia-l4", "memory": "2Gi"}
    )
    class Heavy:
        @bentoml.api
        def run(self, value: int) -> int:
            return value

    assert Heavy.options.gpu == 2 and Heavy.options.cpu_threads == 1
    assert Heavy.options.recorded == {"gpu_type": "nvidia-l4", "memory": "2Gi"}


def test_a_class_without_an_api_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidArgument, match=r"'test_a_class_without.*NoApis' has no API"):

        @bentoml.service
        class NoApis:
            def run(self, value: int) -> int:
                return value


def test_a_parameter_without_a_type_hint_is_an_error_naming_the_method() -> None:
    with pytest.raises(SignatureError, match="untyped") as raised:

        @bentoml.service
        class Untyped:
            @bentoml.api
            def untyped(self, value):  # type: ignore[no-untyped-def]
                return value

    assert "value" in str(raised.value)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"traffic": {"timeuot": 5}}, "timeuot"),
        ({"resources": {"gpus": 1}}, "gpus"),
        ({"workers": 0}, "workers"),
        ({"resources": {"gpu": "one"}}, "gpu"),
    ],
)
def test_a_wrong_option_is_an_error_naming_it(arguments: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named):
        bentoml.service(**arguments)


def test_two_apis_on_one_route_are_an_error_naming_the_method() -> None:
    with pytest.raises(InvalidArgument, match=r"Clash\.second.*already used by API 'first'"):

        @bentoml.service
        class Clash:
            @bentoml.api(route="same")
            def first(self, value: int) -> int:
                return value

            @bentoml.api(route="same")
            def second(self, value: int) -> int:
                return value


def test_errors_are_bentoml_exceptions_for_the_loader_to_report() -> None:
    assert issubclass(SignatureError, BentoMLException)


def test_a_subclass_keeps_its_bases_apis_and_a_staticmethod_api_is_an_error() -> None:
    @bentoml.service
    class Child(Declared.inner):  # type: ignore[name-defined,misc]
        @bentoml.api
        def extra(self, value: int) -> int:
            return value

        def plain(self, text: str) -> str:  # overridden without the decorator: not an API
            return text * 2

    assert list(Child.apis) == ["renamed", "extra"]
    with pytest.raises(InvalidArgument, match=r"'static' is a staticmethod"):

        @bentoml.service
        class Static:
            @staticmethod
            @bentoml.api
            def static(value: int) -> int:
                return value

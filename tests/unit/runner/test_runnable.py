"""``Runnable`` and ``@Runnable.method``: how runnable methods and their configs are collected."""

from __future__ import annotations

from typing import Any

import pytest

import bentoml_classic as bentoml
from bentoml_classic.runner import Runnable, RunnableMethodConfig


def test_public_export() -> None:
    assert bentoml.Runnable is Runnable


def test_class_defaults() -> None:
    assert Runnable.SUPPORTED_RESOURCES == ("cpu",)
    assert Runnable.SUPPORTS_CPU_MULTI_THREADING is False
    assert Runnable.bentoml_runnable_methods__ == {}


def test_method_config_defaults() -> None:
    config = RunnableMethodConfig()
    assert config.batchable is False
    assert config.batch_dim == 0
    assert config.input_spec is None
    assert config.output_spec is None
    assert config.input_batch_dim == 0
    assert config.output_batch_dim == 0


def test_method_config_is_frozen() -> None:
    config = RunnableMethodConfig()
    with pytest.raises(AttributeError):
        config.batchable = True  # type: ignore[misc]


def test_bare_decorator() -> None:
    class Model(Runnable):
        @Runnable.method
        def predict(self, x: Any) -> Any:
            return x

    assert set(Model.bentoml_runnable_methods__) == {"predict"}
    assert Model.bentoml_runnable_methods__["predict"] == RunnableMethodConfig()
    # the decorator gives back the function itself, so the class stays usable directly
    assert Model().predict(3) == 3


def test_decorator_with_arguments() -> None:
    class Model(Runnable):
        @Runnable.method(batchable=True, batch_dim=1, input_spec="in", output_spec="out")
        def predict(self, x: Any) -> Any:
            return x

    config = Model.bentoml_runnable_methods__["predict"]
    assert config.batchable is True
    assert config.batch_dim == 1
    assert config.input_batch_dim == 1
    assert config.output_batch_dim == 1
    assert config.input_spec == "in"
    assert config.output_spec == "out"


def test_decorator_with_empty_parentheses() -> None:
    class Model(Runnable):
        @Runnable.method()
        def predict(self, x: Any) -> Any:
            return x

    assert Model.bentoml_runnable_methods__["predict"] == RunnableMethodConfig()


def test_tuple_batch_dim() -> None:
    class Model(Runnable):
        @Runnable.method(batchable=True, batch_dim=(0, 1))
        def predict(self, x: Any) -> Any:
            return x

    config = Model.bentoml_runnable_methods__["predict"]
    assert config.batch_dim == (0, 1)
    assert config.input_batch_dim == 0
    assert config.output_batch_dim == 1


def test_undecorated_methods_are_not_collected() -> None:
    class Model(Runnable):
        @Runnable.method
        def predict(self, x: Any) -> Any:
            return x

        def helper(self) -> None:
            pass

    assert list(Model.bentoml_runnable_methods__) == ["predict"]


def test_call_and_several_methods() -> None:
    class Model(Runnable):
        @Runnable.method
        def __call__(self, x: Any) -> Any:
            return x

        @Runnable.method(batchable=True)
        def predict_proba(self, x: Any) -> Any:
            return x

    methods = Model.bentoml_runnable_methods__
    assert set(methods) == {"__call__", "predict_proba"}
    assert methods["__call__"].batchable is False
    assert methods["predict_proba"].batchable is True


def test_subclass_inherits_and_adds_methods() -> None:
    class Base(Runnable):
        @Runnable.method(batchable=True)
        def predict(self, x: Any) -> Any:
            return x

    class Child(Base):
        @Runnable.method
        def explain(self, x: Any) -> Any:
            return x

    assert set(Child.bentoml_runnable_methods__) == {"predict", "explain"}
    assert Child.bentoml_runnable_methods__["predict"].batchable is True
    # the parent does not see the child's methods
    assert set(Base.bentoml_runnable_methods__) == {"predict"}


def test_subclass_overrides_config() -> None:
    class Base(Runnable):
        @Runnable.method(batchable=False)
        def predict(self, x: Any) -> Any:
            return x

    class Child(Base):
        @Runnable.method(batchable=True, batch_dim=(1, 0))
        def predict(self, x: Any) -> Any:
            return x * 2

    assert Base.bentoml_runnable_methods__["predict"].batchable is False
    child_config = Child.bentoml_runnable_methods__["predict"]
    assert child_config.batchable is True
    assert (child_config.input_batch_dim, child_config.output_batch_dim) == (1, 0)
    assert Child().predict(2) == 4


def test_sibling_classes_do_not_share_methods() -> None:
    class First(Runnable):
        @Runnable.method
        def a(self) -> None:
            pass

    class Second(Runnable):
        @Runnable.method
        def b(self) -> None:
            pass

    assert set(First.bentoml_runnable_methods__) == {"a"}
    assert set(Second.bentoml_runnable_methods__) == {"b"}
    assert Runnable.bentoml_runnable_methods__ == {}


def test_class_attributes_can_be_overridden() -> None:
    class Gpu(Runnable):
        SUPPORTED_RESOURCES = ("nvidia.com/gpu", "cpu")
        SUPPORTS_CPU_MULTI_THREADING = True

        @Runnable.method
        def predict(self) -> None:
            pass

    assert Gpu.SUPPORTED_RESOURCES == ("nvidia.com/gpu", "cpu")
    assert Gpu.SUPPORTS_CPU_MULTI_THREADING is True
    assert Runnable.SUPPORTED_RESOURCES == ("cpu",)


def test_add_method() -> None:
    class Model(Runnable):
        @Runnable.method
        def predict(self, x: Any) -> Any:
            return x

    def predict_proba(self: Model, x: Any) -> Any:
        return ("proba", x)

    config = RunnableMethodConfig(batchable=True, batch_dim=(0, 1))
    Model.add_method(predict_proba, "predict_proba", config)

    assert set(Model.bentoml_runnable_methods__) == {"predict", "predict_proba"}
    assert Model.bentoml_runnable_methods__["predict_proba"] is config
    assert Model().predict_proba(1) == ("proba", 1)


def test_add_method_on_a_bare_subclass() -> None:
    class Empty(Runnable):
        pass

    assert Empty.bentoml_runnable_methods__ == {}
    Empty.add_method(lambda self, x: x + 1, "predict", RunnableMethodConfig())
    assert set(Empty.bentoml_runnable_methods__) == {"predict"}
    assert Empty().predict(1) == 2
    # the base class is untouched
    assert Runnable.bentoml_runnable_methods__ == {}


def test_add_method_is_inherited_by_later_subclasses() -> None:
    class Base(Runnable):
        pass

    Base.add_method(lambda self: "hi", "greet", RunnableMethodConfig(batchable=True))

    class Child(Base):
        @Runnable.method
        def other(self) -> None:
            pass

    assert set(Child.bentoml_runnable_methods__) == {"greet", "other"}
    assert Child.bentoml_runnable_methods__["greet"].batchable is True


# Regression: `add_method` kept the config on the function object, so one function added under
# two names with different configs ended up with the last config for both once a subclass
# re-collected them; configs are now kept per class and name.
def test_add_method_shared_function_keeps_each_config_in_subclasses() -> None:
    def run(self: Any, x: Any) -> Any:
        return x

    class Base(Runnable):
        pass

    Base.add_method(run, "predict", RunnableMethodConfig(batchable=False))
    Base.add_method(run, "predict_batch", RunnableMethodConfig(batchable=True))
    assert Base.bentoml_runnable_methods__["predict"].batchable is False

    class Child(Base):
        pass

    assert Child.bentoml_runnable_methods__["predict"].batchable is False
    assert Child.bentoml_runnable_methods__["predict_batch"].batchable is True

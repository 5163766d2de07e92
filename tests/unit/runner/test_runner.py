"""``Runner``: validation, method handles, batching options, local execution and teardown."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

import bentoml_classic as bentoml
from bentoml_classic.exceptions import InvalidArgument, StateException
from bentoml_classic.runner import Runnable, Runner, RunnerMethod


class Adder(Runnable):
    """One method, no __call__: it is the default method."""

    def __init__(self, offset: int = 1) -> None:
        self.offset = offset

    @Runnable.method(batchable=True, batch_dim=(0, 1))
    def add(self, x: int) -> int:
        return x + self.offset


class TwoMethods(Runnable):
    @Runnable.method
    def predict(self, x: int) -> int:
        return x * 2

    @Runnable.method(batchable=True)
    def predict_proba(self, x: int) -> tuple[str, int]:
        return ("proba", x)


class WithCall(Runnable):
    @Runnable.method
    def __call__(self, x: int) -> str:
        return f"call {x}"

    @Runnable.method
    def other(self, x: int) -> str:
        return f"other {x}"


class Failing(Runnable):
    @Runnable.method
    def predict(self, x: int) -> int:
        raise ZeroDivisionError(f"cannot handle {x}")


class CustomError(Exception):
    pass


class FailingCustom(Runnable):
    @Runnable.method
    def predict(self, x: int) -> int:
        raise CustomError("custom")


class NoMethods(Runnable):
    def predict(self, x: int) -> int:
        return x


# --- construction and validation -------------------------------------------------------------


def test_public_export() -> None:
    assert bentoml.Runner is Runner


@pytest.mark.parametrize("bad", [object, int, "Adder", Adder(), None, Runnable])
def test_refuses_non_runnable_classes(bad: Any) -> None:
    with pytest.raises(InvalidArgument):
        Runner(bad)


def test_refuses_non_runnable_class_naming_it() -> None:
    class NotRunnable:
        pass

    with pytest.raises(InvalidArgument, match=r"subclass of bentoml\.Runnable") as info:
        Runner(NotRunnable)  # type: ignore[arg-type]
    assert "NotRunnable" in str(info.value)


def test_refuses_runnable_without_methods() -> None:
    with pytest.raises(InvalidArgument, match="no runnable methods") as info:
        Runner(NoMethods)
    assert "NoMethods" in str(info.value)
    assert "Runnable.method" in str(info.value)


def test_refuses_unknown_method_config_names() -> None:
    with pytest.raises(InvalidArgument) as info:
        Runner(TwoMethods, method_configs={"predcit": {"max_batch_size": 4}})
    message = str(info.value)
    assert "predcit" in message
    assert "predict" in message
    assert "predict_proba" in message


@pytest.mark.parametrize("name", ["bad name", "-x", "x-", "a" * 64, "a/b", "a:b"])
def test_refuses_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="runner name"):
        Runner(Adder, name=name)


def test_empty_name_falls_back_to_the_class_name() -> None:
    assert Runner(Adder, name="").name == "adder"


def test_default_name_is_the_class_name_lower_cased() -> None:
    assert Runner(Adder).name == "adder"
    assert Runner(TwoMethods).name == "twomethods"


def test_explicit_name_is_folded_to_lower_case(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        runner = Runner(Adder, name="My-Adder")
    assert runner.name == "my-adder"
    assert any("My-Adder" in r.getMessage() for r in caplog.records)


def test_attributes_are_kept() -> None:
    runner = Runner(
        Adder,
        name="adder",
        runnable_init_params={"offset": 5},
        max_batch_size=8,
        max_latency_ms=20,
        embedded=True,
    )
    assert runner.runnable_class is Adder
    assert runner.runnable_init_params == {"offset": 5}
    assert runner.models == []
    assert runner.embedded is True
    assert runner.max_batch_size == 8
    assert runner.max_latency_ms == 20
    assert runner.is_initialized is False
    assert "adder" in repr(runner)
    assert "Adder" in repr(runner)


def test_runnable_init_params_are_copied() -> None:
    params = {"offset": 5}
    runner = Runner(Adder, runnable_init_params=params)
    params["offset"] = 100
    assert runner.runnable_init_params == {"offset": 5}


# --- method handles --------------------------------------------------------------------------


def test_method_attribute_access() -> None:
    runner = Runner(TwoMethods)
    assert isinstance(runner.predict, RunnerMethod)
    assert runner.predict.name == "predict"
    assert runner.predict.runner is runner
    assert runner.predict is runner.predict
    assert runner.predict_proba.config.batchable is True
    assert runner.predict.config.batchable is False
    assert set(runner.runner_methods) == {"predict", "predict_proba"}
    assert "twomethods.predict" in repr(runner.predict)


def test_runner_methods_is_a_copy() -> None:
    runner = Runner(TwoMethods)
    runner.runner_methods.clear()
    assert set(runner.runner_methods) == {"predict", "predict_proba"}


def test_unknown_method_raises_attribute_error_naming_the_runner() -> None:
    runner = Runner(TwoMethods, name="my_runner")
    with pytest.raises(AttributeError) as info:
        _ = runner.predcit
    assert "'my_runner'" in str(info.value)
    assert "'predcit'" in str(info.value)
    assert not hasattr(runner, "nothing_here")


def test_batch_config_is_carried_to_runner_methods() -> None:
    runner = Runner(Adder)
    config = runner.add.config
    assert config.batchable is True
    assert config.batch_dim == (0, 1)
    assert config.input_batch_dim == 0
    assert config.output_batch_dim == 1


def test_batching_options_default_to_none() -> None:
    runner = Runner(TwoMethods)
    assert runner.predict.max_batch_size is None
    assert runner.predict.max_latency_ms is None


def test_runner_batching_options_apply_to_every_method() -> None:
    runner = Runner(TwoMethods, max_batch_size=16, max_latency_ms=50)
    for method in (runner.predict, runner.predict_proba):
        assert method.max_batch_size == 16
        assert method.max_latency_ms == 50


def test_method_configs_take_precedence_over_runner_options() -> None:
    runner = Runner(
        TwoMethods,
        max_batch_size=16,
        max_latency_ms=50,
        method_configs={
            "predict": {"max_batch_size": 4},
            "predict_proba": {"max_latency_ms": 7},
        },
    )
    assert runner.predict.max_batch_size == 4
    assert runner.predict.max_latency_ms == 50
    assert runner.predict_proba.max_batch_size == 16
    assert runner.predict_proba.max_latency_ms == 7


def test_method_configs_without_runner_options() -> None:
    runner = Runner(TwoMethods, method_configs={"predict": {"max_batch_size": 3}})
    assert runner.predict.max_batch_size == 3
    assert runner.predict.max_latency_ms is None
    assert runner.predict_proba.max_batch_size is None


# --- default method --------------------------------------------------------------------------


def test_default_method_prefers_call() -> None:
    runner = Runner(WithCall)
    assert runner.default_method.name == "__call__"
    runner.init_local(quiet=True)
    assert runner.run(1) == "call 1"
    assert runner.other.run(2) == "other 2"


def test_default_method_is_the_only_method() -> None:
    runner = Runner(Adder)
    assert runner.default_method is runner.add
    runner.init_local(quiet=True)
    assert runner.run(1) == 2


# Regression: the AttributeError that `Runner.default_method` raises sent Python on to
# `Runner.__getattr__`, whose "has no method 'default_method'" replaced the message that lists
# the methods (for `runner.run(...)` too); the listing now reaches the caller.
def test_several_methods_without_call_have_no_default() -> None:
    runner = Runner(TwoMethods, name="two")
    with pytest.raises(AttributeError) as info:
        _ = runner.default_method
    message = str(info.value)
    assert "'two'" in message
    assert "predict" in message
    assert "predict_proba" in message
    runner.init_local(quiet=True)
    with pytest.raises(AttributeError, match="predict_proba"):
        runner.run(1)
    with pytest.raises(AttributeError, match="predict_proba"):
        asyncio.run(runner.async_run(1))


# --- uninitialised runners -------------------------------------------------------------------


def test_run_before_init_raises_state_exception() -> None:
    runner = Runner(Adder, name="adder")
    with pytest.raises(StateException) as info:
        runner.run(1)
    assert "init_local" in str(info.value)
    assert "'adder'" in str(info.value)
    with pytest.raises(StateException, match="init_local"):
        runner.add.run(1)
    assert runner.is_initialized is False


def test_async_run_before_init_raises_state_exception() -> None:
    runner = Runner(TwoMethods, name="two")
    with pytest.raises(StateException, match="init_local"):
        asyncio.run(runner.predict.async_run(1))
    runner_one = Runner(Adder)
    with pytest.raises(StateException, match="init_local"):
        asyncio.run(runner_one.async_run(1))


def test_runnable_is_not_constructed_before_init() -> None:
    constructed: list[int] = []

    class Lazy(Runnable):
        def __init__(self) -> None:
            constructed.append(1)

        @Runnable.method
        def predict(self) -> None:
            pass

    runner = Runner(Lazy)
    assert constructed == []
    runner.init_local(quiet=True)
    assert constructed == [1]


# --- local execution -------------------------------------------------------------------------


def test_init_local_then_run() -> None:
    runner = Runner(TwoMethods)
    runner.init_local(quiet=True)
    assert runner.is_initialized is True
    assert runner.predict.run(3) == 6
    assert runner.predict_proba.run(x=3) == ("proba", 3)


def test_init_local_then_async_run() -> None:
    runner = Runner(TwoMethods)
    runner.init_local(quiet=True)

    async def main() -> tuple[int, tuple[str, int]]:
        return await runner.predict.async_run(4), await runner.predict_proba.async_run(x=5)

    assert asyncio.run(main()) == (8, ("proba", 5))


def test_async_run_default_method() -> None:
    runner = Runner(WithCall)
    runner.init_local(quiet=True)
    assert asyncio.run(runner.async_run(7)) == "call 7"


def test_async_run_keeps_the_event_loop_free() -> None:
    loop_thread: list[int] = []
    method_thread: list[int] = []

    class Where(Runnable):
        @Runnable.method
        def predict(self) -> None:
            method_thread.append(threading.get_ident())

    runner = Runner(Where)
    runner.init_local(quiet=True)

    async def main() -> None:
        loop_thread.append(threading.get_ident())
        await runner.predict.async_run()

    asyncio.run(main())
    assert method_thread and loop_thread
    assert method_thread[0] != loop_thread[0]


def test_sync_run_inside_a_coroutine_works() -> None:
    runner = Runner(Adder)
    runner.init_local(quiet=True)

    async def api() -> int:
        return runner.run(1)

    assert asyncio.run(api()) == 2


def test_runnable_init_params_are_passed_to_the_constructor() -> None:
    runner = Runner(Adder, runnable_init_params={"offset": 10})
    runner.init_local(quiet=True)
    assert runner.run(1) == 11
    assert asyncio.run(runner.add.async_run(2)) == 12


def test_init_local_warns_unless_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bentoml_classic.runner.runner"):
        Runner(Adder, name="loud").init_local()
    assert any("loud" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bentoml_classic.runner.runner"):
        Runner(Adder, name="quiet").init_local(quiet=True)
    assert caplog.records == []


def test_destroy_makes_calls_fail_again() -> None:
    runner = Runner(Adder)
    runner.init_local(quiet=True)
    assert runner.run(1) == 2
    runner.destroy()
    assert runner.is_initialized is False
    with pytest.raises(StateException, match="init_local"):
        runner.run(1)
    with pytest.raises(StateException, match="init_local"):
        asyncio.run(runner.add.async_run(1))


def test_init_local_again_after_destroy_builds_a_new_instance() -> None:
    instances: list[object] = []

    class Tracked(Runnable):
        def __init__(self) -> None:
            instances.append(self)

        @Runnable.method
        def me(self) -> object:
            return self

    runner = Runner(Tracked)
    runner.init_local(quiet=True)
    first = runner.run()
    runner.destroy()
    runner.init_local(quiet=True)
    second = runner.run()
    assert len(instances) == 2
    assert first is instances[0]
    assert second is instances[1]


def test_destroy_before_init_is_harmless() -> None:
    runner = Runner(Adder)
    runner.destroy()
    with pytest.raises(StateException):
        runner.run(1)


def test_exception_in_runnable_propagates_unchanged() -> None:
    runner = Runner(Failing)
    runner.init_local(quiet=True)
    with pytest.raises(ZeroDivisionError, match="cannot handle 3"):
        runner.run(3)
    with pytest.raises(ZeroDivisionError, match="cannot handle 4"):
        asyncio.run(runner.predict.async_run(4))


def test_custom_exception_type_propagates() -> None:
    runner = Runner(FailingCustom)
    runner.init_local(quiet=True)
    with pytest.raises(CustomError) as sync_info:
        runner.predict.run(1)
    assert type(sync_info.value) is CustomError
    with pytest.raises(CustomError) as async_info:
        asyncio.run(runner.predict.async_run(1))
    assert type(async_info.value) is CustomError


def test_two_runners_of_one_class_have_separate_instances() -> None:
    first = Runner(Adder, name="first", runnable_init_params={"offset": 1})
    second = Runner(Adder, name="second", runnable_init_params={"offset": 100})
    first.init_local(quiet=True)
    second.init_local(quiet=True)
    assert first.run(1) == 2
    assert second.run(1) == 101
    first.destroy()
    assert second.run(1) == 101


# --- batching option validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named", "wanted"),
    [
        ({"max_batch_size": 0}, "max_batch_size", "positive integer"),
        ({"max_batch_size": -3}, "max_batch_size", "positive integer"),
        ({"max_batch_size": 2.0}, "max_batch_size", "positive integer"),
        ({"max_batch_size": "8"}, "max_batch_size", "positive integer"),
        ({"max_batch_size": True}, "max_batch_size", "positive integer"),
        ({"max_latency_ms": 0}, "max_latency_ms", "positive number"),
        ({"max_latency_ms": -1.5}, "max_latency_ms", "positive number"),
        ({"max_latency_ms": "10"}, "max_latency_ms", "positive number"),
        ({"max_latency_ms": False}, "max_latency_ms", "positive number"),
        ({"max_latency_ms": float("nan")}, "max_latency_ms", "positive number"),
    ],
)
def test_refuses_invalid_runner_batching_options(
    options: dict[str, Any], named: str, wanted: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        Runner(TwoMethods, **options)
    message = str(info.value)
    assert named in message
    assert wanted in message
    assert repr(next(iter(options.values()))) in message  # the offending value is shown


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_batch_size": 0}, "method_configs['predict']['max_batch_size']"),
        ({"max_batch_size": 1.5}, "method_configs['predict']['max_batch_size']"),
        ({"max_latency_ms": -5}, "method_configs['predict']['max_latency_ms']"),
        ({"max_latency_ms": [1]}, "method_configs['predict']['max_latency_ms']"),
    ],
)
def test_refuses_invalid_method_config_values_naming_method_and_key(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        Runner(TwoMethods, method_configs={"predict": options})
    assert named in str(info.value)


def test_refuses_unknown_method_config_keys_naming_them() -> None:
    with pytest.raises(InvalidArgument) as info:
        Runner(
            TwoMethods,
            method_configs={"predict": {"max_batch_size": 4, "batch_size": 4, "timeout": 1}},
        )
    message = str(info.value)
    assert "method_configs['predict']" in message
    assert "batch_size" in message and "timeout" in message
    assert "max_latency_ms" in message  # the allowed keys are listed


def test_unknown_method_is_reported_before_its_options_are_checked() -> None:
    with pytest.raises(InvalidArgument, match="does not have") as info:
        Runner(TwoMethods, method_configs={"nope": {"max_batch_size": 0}})
    assert "nope" in str(info.value)


def test_none_batching_options_mean_unset() -> None:
    runner = Runner(
        TwoMethods,
        max_batch_size=None,
        max_latency_ms=None,
        method_configs={"predict": {"max_batch_size": None, "max_latency_ms": None}},
    )
    assert runner.predict.max_batch_size is None
    assert runner.predict.max_latency_ms is None


def test_valid_edge_values_are_accepted() -> None:
    runner = Runner(
        TwoMethods,
        max_batch_size=1,
        max_latency_ms=0.5,
        method_configs={"predict_proba": {"max_latency_ms": 3}},
    )
    assert runner.predict.max_batch_size == 1
    assert runner.predict.max_latency_ms == 0.5
    assert runner.predict_proba.max_latency_ms == 3


class OddlyNamed(Runnable):
    @Runnable.method(batchable=True)
    def max_batch_size_of(self, x: Any) -> Any:
        return x


def test_option_kind_follows_the_key_not_the_method_name() -> None:
    # a float latency for a method whose name contains "max_batch_size" is fine
    runner = Runner(OddlyNamed, method_configs={"max_batch_size_of": {"max_latency_ms": 2.5}})
    assert runner.max_batch_size_of.max_latency_ms == 2.5
    with pytest.raises(InvalidArgument, match="positive integer"):
        Runner(OddlyNamed, method_configs={"max_batch_size_of": {"max_batch_size": 2.5}})


@pytest.mark.parametrize("options", [None, [("max_batch_size", 4)], 4, "max_batch_size=4"])
def test_refuses_method_configs_that_are_not_dicts(options: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"method_configs\['predict'\] must be a dict"):
        Runner(TwoMethods, method_configs={"predict": options})


class Echo(Runnable):
    @Runnable.method(batchable=True, batch_dim=0)
    def echo(self, x: Any) -> Any:
        return x


def test_a_call_that_expires_before_it_runs_is_answered_503_not_none() -> None:
    """A call that takes a free slot but has (with a tiny max_latency_ms) already waited too
    long must get its 503, never a silent None or no answer at all."""
    import numpy as np

    from bentoml_classic.exceptions import ServiceUnavailable

    runner = Runner(Echo, max_latency_ms=1e-9)
    runner.init_local(quiet=True)
    try:
        for _ in range(20):
            with pytest.raises(ServiceUnavailable):
                runner.echo.run(np.ones((1, 2)))

        async def async_call() -> Any:
            return await asyncio.wait_for(runner.echo.async_run(np.ones((1, 2))), timeout=10)

        for _ in range(20):
            with pytest.raises(ServiceUnavailable):
                asyncio.run(async_call())
        # still serving: a generous limit lets calls through
        relaxed = Runner(Echo, name="relaxed", max_latency_ms=60_000)
        relaxed.init_local(quiet=True)
        assert relaxed.echo.run(np.ones((1, 2))).shape == (1, 2)
        relaxed.destroy()
    finally:
        runner.destroy()

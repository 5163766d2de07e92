"""``runner.policies``: which batching each method of a runner gets, and the precedence of
``method_configs``, ``to_runner()`` arguments, ``runners.<name>`` and ``runners``."""

from __future__ import annotations

from typing import Any

from bentoml_classic.batching.memory import QUEUE_MEMORY_SHARE, default_queue_bytes, memory_limit
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.config import as_settings, build_config
from bentoml_classic.runner import Runnable, Runner
from bentoml_classic.runner.policies import DEFAULT_MAX_BATCH_SIZE, resolve_policy

# --- resolve_policy --------------------------------------------------------------------------


class Model(Runnable):
    @Runnable.method(batchable=True, batch_dim=(1, 0))
    def predict(self, x: Any) -> Any:
        return x

    @Runnable.method(batchable=True)
    def embed(self, x: Any) -> Any:
        return x

    @Runnable.method
    def describe(self) -> str:
        return "model"


def policy_for(
    raw: dict[str, Any], method: str = "predict", name: str = "special", **to_runner: Any
) -> BatchPolicy | None:
    runner = Runner(Model, name=name, **to_runner)
    return resolve_policy(runner.runner_methods[method], build_config(raw).runner(runner.name))


LAYERED = {
    "runners": {
        "batching": {"max_batch_size": 8, "max_latency_ms": 250},
        "special": {"batching": {"max_batch_size": 16, "max_latency_ms": 500}},
    }
}


def test_default_policy_bounds_the_queue_by_time_and_memory_not_rows() -> None:
    policy = policy_for({})
    assert policy == BatchPolicy(
        max_batch_size=100,
        max_latency_s=10.0,
        max_queue_rows=None,
        max_queue_bytes=default_queue_bytes(),
        # no max_batch_size was given: a call of more rows runs whole
        split_oversized=False,
        input_dim=1,
        output_dim=0,
    )
    assert DEFAULT_MAX_BATCH_SIZE == 100
    assert default_queue_bytes() == int(memory_limit() * QUEUE_MEMORY_SHARE)


def test_a_given_max_batch_size_cuts_larger_calls_wherever_it_is_given() -> None:
    assert policy_for({"runners": {"batching": {"max_batch_size": 100}}}).split_oversized
    assert policy_for({"runners": {"special": {"batching": {"max_batch_size": 9}}}}).split_oversized
    assert policy_for({}, max_batch_size=100).split_oversized
    assert policy_for({}, method_configs={"predict": {"max_batch_size": 7}}).split_oversized
    # only the method given one: its sibling keeps the default, and runs large calls whole
    sibling = policy_for({}, method="embed", method_configs={"predict": {"max_batch_size": 7}})
    assert sibling is not None and not sibling.split_oversized


def test_an_unset_max_batch_size_stays_unset_through_the_settings_handed_to_workers() -> None:
    # the arbiter hands its workers the configuration as settings; "not given" must survive
    config = build_config(as_settings(build_config({"runners": {"special": {"timeout": 5}}})))
    assert config.runner("special").batching.max_batch_size is None
    assert not resolve_policy(
        Runner(Model, name="special").runner_methods["predict"], config.runner("special")
    ).split_oversized


def test_max_queue_bytes_is_configurable() -> None:
    raw = {"runners": {"batching": {"max_queue_bytes": 12345}}}
    policy = policy_for(raw)
    assert policy is not None
    assert policy.max_queue_bytes == 12345
    assert policy.max_queue_rows is None


def test_runners_config_applies_to_every_runner() -> None:
    policy = policy_for(LAYERED, name="other")
    assert policy is not None
    assert policy.max_batch_size == 8
    assert policy.max_latency_s == 0.25
    assert policy.max_queue_rows is None


def test_runner_section_overrides_runners_config() -> None:
    policy = policy_for(LAYERED)
    assert policy is not None
    assert policy.max_batch_size == 16
    assert policy.max_latency_s == 0.5
    assert policy.max_queue_rows is None


def test_to_runner_arguments_override_the_runner_section() -> None:
    policy = policy_for(LAYERED, max_batch_size=5, max_latency_ms=40)
    assert policy is not None
    assert policy.max_batch_size == 5
    assert policy.max_latency_s == 0.04
    assert policy.max_queue_rows is None


def test_method_configs_override_to_runner_arguments() -> None:
    kwargs: dict[str, Any] = {
        "max_batch_size": 5,
        "max_latency_ms": 40,
        "method_configs": {"predict": {"max_batch_size": 3, "max_latency_ms": 7}},
    }
    policy = policy_for(LAYERED, **kwargs)
    assert policy is not None
    assert policy.max_batch_size == 3
    assert policy.max_latency_s == 0.007
    other = policy_for(LAYERED, method="embed", **kwargs)
    assert other is not None
    assert other.max_batch_size == 5
    assert other.max_latency_s == 0.04
    assert (other.input_dim, other.output_dim) == (0, 0)


def test_method_configs_can_override_one_option_only() -> None:
    policy = policy_for(
        LAYERED, max_latency_ms=40, method_configs={"predict": {"max_batch_size": 3}}
    )
    assert policy is not None
    assert policy.max_batch_size == 3
    assert policy.max_latency_s == 0.04


def test_max_queue_size_is_an_explicit_row_bound_beside_the_memory_bound() -> None:
    raw = {"runners": {"batching": {"max_batch_size": 8, "max_queue_size": 20}}}
    policy = policy_for(raw)
    assert policy is not None
    assert policy.max_queue_rows == 20
    assert policy.max_queue_bytes == default_queue_bytes()


def test_a_queue_always_holds_at_least_one_batch() -> None:
    raw = {"runners": {"batching": {"max_batch_size": 8, "max_queue_size": 3}}}
    policy = policy_for(raw)
    assert policy is not None
    assert policy.max_queue_rows == 8


def test_a_method_that_is_not_batchable_has_no_policy() -> None:
    assert policy_for({}, method="describe") is None
    assert policy_for(LAYERED, method="describe", max_batch_size=4) is None


def test_disabled_batching_has_no_policy() -> None:
    assert policy_for({"runners": {"batching": {"enabled": False}}}) is None
    assert policy_for({"runners": {"special": {"batching": {"enabled": False}}}}) is None
    assert policy_for({"runners": {"special": {"batching": {"enabled": False}}}}, name="x")
    # to_runner arguments do not turn it back on
    assert policy_for({"runners": {"batching": {"enabled": False}}}, max_batch_size=4) is None

"""What the arbiter tells a runner worker: the batching of each method, resolved from
``to_runner()``, ``method_configs`` and the configuration, so the worker need not load that."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.config import BentoMLConfig
from bentoml_classic.serving.deployment_plan import runner_plan
from bentoml_classic.serving.watchers import runner_watcher
from bentoml_classic.serving.worker_spec import SPEC_ENV, WorkerSpec
from tests.support.configs import config_of


class Model(bentoml.Runnable):
    @bentoml.Runnable.method(batchable=True, batch_dim=0)
    def predict(self, x: np.ndarray) -> np.ndarray:
        return x

    @bentoml.Runnable.method(batchable=True)
    def score(self, x: np.ndarray) -> np.ndarray:
        return x

    @bentoml.Runnable.method
    def describe(self, x: Any) -> str:
        return "model"


def spec_of(runner: bentoml.Runner, config: BentoMLConfig | None = None) -> WorkerSpec:
    config = config or config_of()
    watcher = runner_watcher(
        "service:svc", "/srv", runner_plan(runner, 0, config), config, [],
        grace_seconds=5, numprocesses=1,
    )  # fmt: skip
    return WorkerSpec(**json.loads(watcher.env[SPEC_ENV]))


def test_the_spec_carries_each_batchable_methods_resolved_policy() -> None:
    config = config_of("runners.batching.max_batch_size=50 runners.batching.max_latency_ms=300")
    runner = bentoml.Runner(
        Model, name="model", max_batch_size=7, method_configs={"score": {"max_latency_ms": 20}}
    )
    spec = spec_of(runner, config)
    policies = {name: BatchPolicy(**fields) for name, fields in spec.batch_policies.items()}
    assert set(policies) == {"predict", "score"}  # describe is not batchable
    assert policies["predict"].max_batch_size == 7  # to_runner() wins over the configuration
    assert policies["predict"].max_latency_s == pytest.approx(0.3)  # from the configuration
    assert policies["score"].max_latency_s == pytest.approx(0.02)  # method_configs wins
    assert spec.runner == "model"


def test_batching_disabled_in_the_configuration_sends_no_policy() -> None:
    spec = spec_of(bentoml.Runner(Model, name="model"), config_of("runners.batching.enabled=false"))
    assert spec.batch_policies == {}


def test_the_spec_carries_the_runners_scheduling_policy() -> None:
    assert spec_of(bentoml.Runner(Model, name="model")).scheduling_policy == "inherit"
    config = config_of("runners.model.scheduling_policy=batch")
    assert spec_of(bentoml.Runner(Model, name="model"), config).scheduling_policy == "batch"
    assert spec_of(bentoml.Runner(Model, name="other"), config).scheduling_policy == "inherit"


def test_the_spec_carries_the_runners_heap_policy() -> None:
    assert spec_of(bentoml.Runner(Model, name="model")).heap == {
        "retain_mb": 32,
        "idle_trim_s": 2.0,
    }
    config = config_of("runners.model.heap.retain_mb=0")
    assert spec_of(bentoml.Runner(Model, name="model"), config).heap["retain_mb"] == 0
    assert spec_of(bentoml.Runner(Model, name="other"), config).heap["retain_mb"] == 32


def test_api_workers_are_handed_the_arbiters_configuration_and_https() -> None:
    from bentoml_classic.config import build_config
    from bentoml_classic.serving.arguments import http_settings
    from bentoml_classic.serving.http_tls import HttpTls, http_tls_from_spec
    from bentoml_classic.serving.watchers import api_watcher

    config = http_settings(config_of("runners.model.timeout=9"), timeout=3, backlog=64)
    https = HttpTls(certfile="/srv/cert.pem", keyfile="/srv/key.pem")
    watcher = api_watcher(
        "service:svc", "/srv", "api", {}, config, workers=2, development=False, http_tls=https
    )
    spec = WorkerSpec(**json.loads(watcher.env[SPEC_ENV]))
    assert build_config(spec.config) == config  # arguments and per-runner sections included
    assert http_tls_from_spec(spec.http_tls) == https
    assert spec.heap == config.api_server.heap.model_dump()
    assert spec.grace_seconds == config.grace_seconds


def test_a_runner_worker_listens_with_the_backlog_it_is_given() -> None:
    watcher = runner_watcher(
        "service:svc", "/srv", runner_plan(bentoml.Runner(Model, name="model"), 0, config_of()),
        config_of(), [], grace_seconds=5, numprocesses=1, backlog=32,
    )  # fmt: skip
    assert WorkerSpec(**json.loads(watcher.env[SPEC_ENV])).backlog == 32


def test_a_runner_servers_timeout_is_its_workers_stuck_call_limit() -> None:
    from bentoml_classic.serving.arguments import runner_settings
    from bentoml_classic.serving.stuck_model import STUCK_GRACE_S

    config = runner_settings(config_of(), "model", timeout=7)
    spec = spec_of(bentoml.Runner(Model, name="model"), config)
    assert spec.stuck_after_s == 7 + STUCK_GRACE_S

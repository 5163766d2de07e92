"""``@bentoml.service(workers=, traffic=, resources=)`` as a deployment's defaults: the
configuration's keys and the command line win; GPUs and thread counts become worker
environments."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from bentoml_classic.config import build_config, with_settings
from bentoml_classic.serving import deployment_plan
from bentoml_classic.serving.class_services import (
    place_service_gpus,
    service_envs,
    with_class_defaults,
)

OPTIONS = {
    "entry": {"workers": 8, "timeout": 600, "max_concurrency": None, "gpu": None, "cpu_threads": 1},
    "model.v1": {"workers": 2, "timeout": 900, "max_concurrency": 3, "gpu": 1, "cpu_threads": None},
}


def test_the_decorators_fill_the_keys_nothing_sets() -> None:
    given = build_config({})
    config = with_class_defaults(given, given, "entry", OPTIONS)
    assert config.api_server.workers == 8
    assert config.api_server.traffic.timeout == 600
    model = config.service("model.v1")  # a name with a dot is one key, not two
    assert (model.workers, model.traffic.timeout, model.traffic.max_concurrency) == (2, 900, 3)


def test_the_configuration_wins_key_by_key() -> None:
    given = build_config(
        {
            "api_server": {"workers": 2, "traffic": {"timeout": 60}},
            "services": {"model.v1": {"traffic": {"max_concurrency": 7}}},
        }
    )
    config = with_class_defaults(given, given, "entry", OPTIONS)
    assert (config.api_server.workers, config.api_server.traffic.timeout) == (2, 60)
    model = config.service("model.v1")
    assert (model.workers, model.traffic.timeout, model.traffic.max_concurrency) == (2, 900, 7)


def test_a_command_line_argument_wins() -> None:
    given = build_config({})
    argued = with_settings(given, {"api_server.traffic.timeout": 30})  # bentoml serve --timeout 30
    config = with_class_defaults(argued, given, "entry", OPTIONS)
    assert config.api_server.traffic.timeout == 30
    assert config.api_server.workers == 8


def test_gpu_counts_get_different_gpus_and_cpu_sets_thread_counts() -> None:
    options = {
        "a": {"gpu": 1, "cpu_threads": 4},
        "b": {"gpu": 2, "cpu_threads": None},
        "c": {"gpu": ["7"], "cpu_threads": None},
        "d": {"gpu": None, "cpu_threads": None},
    }
    envs = service_envs(options, machine=lambda: ["0", "1", "2"])
    assert envs["a"]["CUDA_VISIBLE_DEVICES"] == "0"
    assert envs["a"]["OMP_NUM_THREADS"] == "4"
    assert envs["b"] == {"CUDA_VISIBLE_DEVICES": "1,2"}
    assert envs["c"] == {"CUDA_VISIBLE_DEVICES": "7"}
    assert "d" not in envs


def test_a_gpu_asked_for_on_a_machine_without_one_runs_on_cpu_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        envs = service_envs({"a": {"gpu": 1, "cpu_threads": None}}, machine=lambda: [])
    assert envs["a"] == {"CUDA_VISIBLE_DEVICES": ""}
    assert "asks for 1 GPU(s)" in caplog.text


def test_services_get_the_gpus_runners_did_not_get() -> None:
    options = {
        "a": {"gpu": 1, "cpu_threads": None},
        "b": {"gpu": ["3"], "cpu_threads": None},
        "c": {"gpu": 1, "cpu_threads": None},
    }
    placed = place_service_gpus(options, held={"0", "1"}, machine=lambda: ["0", "1", "2", "3"])
    # "0" and "1" are the runners', "3" is b's by list: a gets the one left, c shares it
    assert placed["a"]["gpu"] == ["2"]
    assert placed["b"]["gpu"] == ["3"]
    assert placed["c"]["gpu"] == ["2"]
    assert service_envs(placed)["a"] == {"CUDA_VISIBLE_DEVICES": "2"}


def test_a_service_sharing_a_gpu_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    options = {"model": {"gpu": 1, "cpu_threads": None}}
    with caplog.at_level(logging.WARNING):
        placed = place_service_gpus(options, held={"0"}, machine=lambda: ["0"])
    assert placed["model"]["gpu"] == ["0"]
    assert "service model shares GPU(s)" in caplog.text


def test_counts_stay_counts_on_a_machine_without_gpus() -> None:
    options = {"model": {"gpu": 2, "cpu_threads": None}}
    assert place_service_gpus(options, held=set(), machine=lambda: []) is options
    assert place_service_gpus({"m": {"gpu": None}}, held={"0"}, machine=lambda: ["0"]) == {
        "m": {"gpu": None}
    }


GRAPH = """
import bentoml_classic as bentoml
from bentoml_classic.io import JSON


class GpuModel(bentoml.Runnable):
    SUPPORTED_RESOURCES = ("nvidia.com/gpu", "cpu")
    SUPPORTS_CPU_MULTI_THREADING = True

    @bentoml.Runnable.method
    def predict(self, x):
        return x


runner = bentoml.Runner(GpuModel, name="gpu_model")


@bentoml.service(resources={"gpu": 1})
class Encoder:
    @bentoml.api
    def encode(self, text: str) -> str:
        return text


svc = bentoml.Service("entry", runners=[runner])
encoder = bentoml.depends(Encoder)


@svc.api(input=JSON(), output=JSON())
def predict(value):
    return encoder.encode.run(text=str(runner.predict.run(value)))
"""


def test_the_plan_hands_out_runner_and_service_gpus_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "gpu_graph.py").write_text(GRAPH)
    # the machine's GPUs, as machine_gpus reads them where CUDA_VISIBLE_DEVICES is set
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    config = {"runners": {"gpu_model": {"resources": {"nvidia.com/gpu": 1}}}}
    monkeypatch.setenv("BENTOML_PLAN_CONFIG", json.dumps(config))
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    try:
        plan = deployment_plan._make_plan("gpu_graph:svc", str(tmp_path))
    finally:
        sys.modules.pop("gpu_graph", None)
    (runner,) = plan.runners
    assert runner.name == "gpu_model"
    runner_gpus = {env["CUDA_VISIBLE_DEVICES"] for env in runner.worker_envs}
    assert runner_gpus == {"0"}
    assert service_envs(plan.class_services)["encoder"] == {"CUDA_VISIBLE_DEVICES": "1"}

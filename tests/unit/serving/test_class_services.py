"""``@bentoml.service(workers=, traffic=, resources=)`` as a deployment's defaults: the
configuration's keys and the command line win; GPUs and thread counts become worker
environments."""

from __future__ import annotations

import logging

import pytest

from bentoml_classic.config import build_config, with_settings
from bentoml_classic.serving.class_services import service_envs, with_class_defaults

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

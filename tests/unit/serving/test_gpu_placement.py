"""Which GPUs each runner's workers see, on machines described by fake GPU lists.

No GPU is needed: ``place_gpus`` takes the machine's list as an argument, and the placement
ends in the ``CUDA_VISIBLE_DEVICES`` of each worker's environment (``worker_envs``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from bentoml_classic.config import BentoMLConfig, build_config
from bentoml_classic.exceptions import BentoMLConfigException
from bentoml_classic.runner import Runnable
from bentoml_classic.serving.resources import GPU, machine_gpus, place_gpus, worker_envs


class GpuModel(Runnable):
    SUPPORTED_RESOURCES = (GPU, "cpu")
    SUPPORTS_CPU_MULTI_THREADING = True

    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


class CpuModel(Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = True

    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


FOUR_GPUS = ["0", "1", "2", "3"]


def runners_config(per_runner: dict[str, Any], **shared: Any) -> BentoMLConfig:
    return build_config({"runners": {**shared, **per_runner}})


def visible(config: BentoMLConfig, name: str, runnable: type[Runnable] = GpuModel) -> list[str]:
    return [env["CUDA_VISIBLE_DEVICES"] for env in worker_envs(runnable, config.runner(name))]


def placed(
    config: BentoMLConfig, names: list[str], machine: list[str] | None = FOUR_GPUS
) -> BentoMLConfig:
    return place_gpus(config, [(name, GpuModel) for name in names], lambda: machine)


def test_two_runners_of_two_gpus_share_a_four_gpu_machine() -> None:
    config = runners_config(
        {"a": {"resources": {GPU: 2}}, "b": {"resources": {GPU: 2}}},
    )
    # without placement, both would take GPUs 0 and 1 (classic's behaviour)
    assert visible(config, "a") == visible(config, "b") == ["0", "1"]
    config = placed(config, ["a", "b"])
    assert visible(config, "a") == ["0", "1"]
    assert visible(config, "b") == ["2", "3"]


def test_shared_default_count_is_split_between_runners() -> None:
    config = placed(runners_config({}, resources={GPU: 2}), ["a", "b"])
    assert visible(config, "a") == ["0", "1"]
    assert visible(config, "b") == ["2", "3"]


def test_counts_skip_the_gpus_a_list_names() -> None:
    config = runners_config(
        {"pinned": {"resources": {GPU: [0, 1]}}, "counted": {"resources": {GPU: 2}}}
    )
    config = placed(config, ["counted", "pinned"])
    assert visible(config, "pinned") == ["0", "1"]
    assert visible(config, "counted") == ["2", "3"]


def test_the_machine_list_gives_the_ids(caplog: pytest.LogCaptureFixture) -> None:
    config = runners_config({"a": {"resources": {GPU: 1}}, "b": {"resources": {GPU: 1}}})
    config = placed(config, ["a", "b"], machine=["GPU-aaa", "GPU-bbb"])
    assert visible(config, "a") == ["GPU-aaa"]
    assert visible(config, "b") == ["GPU-bbb"]


def test_more_gpus_asked_than_exist_wrap_around_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = runners_config(
        {name: {"resources": {GPU: 2}} for name in ("a", "b", "c")},
    )
    with caplog.at_level(logging.WARNING, logger="bentoml_classic.serving.resources"):
        config = placed(config, ["a", "b", "c"])
    assert [visible(config, name) for name in ("a", "b", "c")] == [
        ["0", "1"],
        ["2", "3"],
        ["0", "1"],
    ]
    assert "runner c shares GPU(s)" in caplog.text
    assert "runner a" not in caplog.text and "runner b" not in caplog.text


def test_one_runner_asking_for_more_than_exist_gets_each_gpu_once() -> None:
    config = placed(runners_config({"big": {"resources": {GPU: 6}}}), ["big"])
    assert visible(config, "big") == FOUR_GPUS


def test_workers_per_resource_on_placed_gpus() -> None:
    config = runners_config(
        {
            "two_each": {"resources": {GPU: 2}, "workers_per_resource": 2},
            "pairs": {"resources": {GPU: 2}, "workers_per_resource": 0.5},
        }
    )
    config = placed(config, ["two_each", "pairs"])
    assert visible(config, "two_each") == ["0", "0", "1", "1"]
    assert visible(config, "pairs") == ["2,3"]


def test_fractional_workers_per_resource_must_divide_the_gpus() -> None:
    config = runners_config({"a": {"resources": {GPU: [0, 1, 2]}, "workers_per_resource": 0.5}})
    with pytest.raises(BentoMLConfigException, match=re.escape("workers_per_resource 0.5")):
        worker_envs(GpuModel, config.runner("a"))


def test_runners_without_gpu_support_or_counts_are_left_alone() -> None:
    config = runners_config({"cpu_only": {"resources": {GPU: 2}}, "other": {}})
    placed_config = place_gpus(
        config, [("cpu_only", CpuModel), ("other", GpuModel)], lambda: pytest.fail("not asked")
    )
    assert placed_config is config
    assert visible(placed_config, "cpu_only", CpuModel) == [""]
    assert visible(placed_config, "other") == [""]


def test_no_gpu_on_the_machine_is_a_config_error_naming_the_runners() -> None:
    config = runners_config({"a": {"resources": {GPU: 1}}})
    with pytest.raises(BentoMLConfigException, match=r"\['a'\].*no GPU"):
        placed(config, ["a"], machine=[])


def test_unknown_machine_hands_out_ids_in_order() -> None:
    config = runners_config({"a": {"resources": {GPU: 1}}, "b": {"resources": {GPU: 2}}})
    config = placed(config, ["a", "b"], machine=None)
    assert visible(config, "a") == ["0"]
    assert visible(config, "b") == ["1", "2"]


def test_machine_gpus_reads_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 5")
    assert machine_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert machine_gpus() == []

"""``bentoml_classic.triton.Runner`` against a real ``tritonserver`` started by ``init_local()``.

One runner (gRPC, explicit model control) serves the module; the HTTP client and the start-up
failures start servers of their own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from bentoml_classic.config import RunnerConfig, TritonConfig
from bentoml_classic.exceptions import (
    BadInput,
    BentoMLException,
    InvalidArgument,
    ServiceUnavailable,
    StateException,
)
from bentoml_classic.triton import Runner, TritonRunner
from bentoml_classic.triton.executable import TRITONSERVER_ENV, find_tritonserver
from tests.support.triton import EXAMPLE, write_tritonserver

REPOSITORY = EXAMPLE / "model_repository"
ROWS = np.arange(8, dtype=np.float32).reshape(2, 4)


@pytest.fixture(scope="module")
def tritonserver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tritonserver(tmp_path_factory.mktemp("tritonserver"))


def _config(tritonserver: Path) -> RunnerConfig:
    return RunnerConfig(triton=TritonConfig(executable=str(tritonserver)))


@pytest.fixture(scope="module")
def runner(tritonserver: Path) -> Iterator[TritonRunner]:
    runner = Runner(
        "triton_runner",
        REPOSITORY,
        cli_args=["--model-control-mode=explicit", "--load-model=add_one"],
    )
    runner.init_local(quiet=True, config=_config(tritonserver))
    yield runner
    runner.destroy()


def test_positional_and_keyword_calls_answer_triton_results(runner: TritonRunner) -> None:
    result = runner.add_one.run(ROWS)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), ROWS + 1)
    assert result.get_output("OUTPUT0").datatype == "FP32"
    assert result.get_response().model_name == "add_one"

    async def by_name() -> np.ndarray:
        answer = await runner.add_one.async_run(INPUT0=ROWS[:1])
        return answer.as_numpy("OUTPUT0")

    np.testing.assert_array_equal(asyncio.run(by_name()), ROWS[:1] + 1)


def test_mixing_positional_and_keyword_inputs_is_refused_before_any_call() -> None:
    never_started = Runner("mixed", REPOSITORY)
    with pytest.raises(InvalidArgument, match=r"either all positionally .* or all by name"):
        never_started.add_one.run(ROWS, INPUT0=ROWS)


@pytest.mark.parametrize(
    ("args", "kwargs", "message", "input_name"),
    [
        ((ROWS[:, :3],), {}, "unexpected shape for input 'INPUT0'", "INPUT0"),
        ((ROWS.astype(np.float64),), {}, "data-type is 'FP64'", "INPUT0"),
        ((), {"INPUT9": ROWS}, "has no input 'INPUT9'", "INPUT9"),
        ((ROWS, ROWS), {}, "takes 1 input", None),
    ],
    ids=["shape", "dtype", "unknown-input", "too-many"],
)
def test_a_bad_tensor_is_a_400_naming_model_and_input(
    runner: TritonRunner,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    message: str,
    input_name: str | None,
) -> None:
    with pytest.raises(BadInput, match=message) as raised:
        runner.add_one.run(*args, **kwargs)
    assert raised.value.detail["model"] == "add_one"
    assert raised.value.detail.get("input") == input_name
    assert "request id" not in raised.value.message
    np.testing.assert_array_equal(runner.add_one.run(ROWS).as_numpy("OUTPUT0"), ROWS + 1)


def test_an_unknown_model_is_a_400_naming_it(runner: TritonRunner) -> None:
    with pytest.raises(BadInput, match="unknown model: 'nope'") as raised:
        runner.model("nope").run(ROWS)
    assert raised.value.detail == {"runner": "triton_runner", "model": "nope"}


def test_management_calls_and_a_model_that_is_not_ready(runner: TritonRunner) -> None:
    async def manage() -> None:
        assert await runner.is_server_live() and await runner.is_server_ready()
        config = await runner.get_model_config("add_one", as_json=True)
        assert config["config"]["max_batch_size"] == 64
        metadata = await runner.get_model_metadata("add_one", as_json=True)
        assert [i["name"] for i in metadata["inputs"]] == ["INPUT0"]
        index = await runner.get_model_repository_index(as_json=True)
        assert [m["name"] for m in index["models"]] == ["add_one"]
        await runner.unload_model("add_one")
        assert not await runner.is_model_ready("add_one")
        with pytest.raises(ServiceUnavailable, match="model 'add_one' is not ready") as raised:
            await runner.add_one.async_run(ROWS)
        assert raised.value.http_status == 503
        await runner.load_model("add_one")
        assert await runner.is_model_ready("add_one")
        answer = await runner.add_one.async_run(ROWS)
        np.testing.assert_array_equal(answer.as_numpy("OUTPUT0"), ROWS + 1)

    asyncio.run(manage())


def test_http_client_and_destroy_stops_the_server(tritonserver: Path) -> None:
    runner = Runner("http_runner", REPOSITORY, tritonserver_type="http")
    runner.init_local(quiet=True, config=_config(tritonserver))
    servers = [
        child
        for child in psutil.Process().children()
        if "--allow-grpc=false" in " ".join(child.cmdline())
    ]
    assert len(servers) == 1
    result = runner.add_one.run(INPUT0=ROWS)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), ROWS + 1)
    assert result.get_response()["model_name"] == "add_one"
    with pytest.raises(BadInput, match="input 'INPUT0'") as raised:
        runner.add_one.run(ROWS[:, :2])
    assert raised.value.detail["input"] == "INPUT0"
    runner.destroy()
    assert not servers[0].is_running() or servers[0].status() == psutil.STATUS_ZOMBIE
    with pytest.raises(StateException, match="not initialised"):
        runner.add_one.run(ROWS)


@pytest.mark.parametrize(
    ("repository", "cli_args", "says"),
    [
        ("missing", [], "failed to stat file"),
        ("example", ["--no-such-option=1"], "unrecognized option '--no-such-option=1'"),
        ("no-config", [], "have no config.pbtxt"),
    ],
    ids=["no-repository", "refused-cli-args", "no-config-pbtxt"],
)
def test_a_start_triton_refuses_says_why_and_names_the_runner(
    tritonserver: Path, tmp_path: Path, repository: str, cli_args: list[str], says: str
) -> None:
    path = {"missing": tmp_path / "missing", "example": REPOSITORY}.get(repository)
    if path is None:
        path = tmp_path / "repository"
        shutil.copytree(REPOSITORY, path)
        (path / "add_one" / "config.pbtxt").unlink()
    runner = Runner("refused_runner", path, cli_args=cli_args)
    with pytest.raises(BentoMLException, match=says) as raised:
        runner.init_local(quiet=True, config=_config(tritonserver))
    assert "Triton runner 'refused_runner'" in raised.value.message


def test_the_executable_is_the_runners_key_then_the_variable_then_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("on_path", "from_env", "configured"):
        program = tmp_path / name / "tritonserver"
        program.parent.mkdir()
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'on_path'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv(TRITONSERVER_ENV, raising=False)
    assert find_tritonserver("r", RunnerConfig()) == str(tmp_path / "on_path" / "tritonserver")
    monkeypatch.setenv(TRITONSERVER_ENV, str(tmp_path / "from_env" / "tritonserver"))
    assert find_tritonserver("r", RunnerConfig()).startswith(str(tmp_path / "from_env"))
    configured = RunnerConfig(
        triton=TritonConfig(executable=str(tmp_path / "configured" / "tritonserver"))
    )
    assert find_tritonserver("r", configured).startswith(str(tmp_path / "configured"))


def test_a_missing_executable_names_the_runner_and_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(TRITONSERVER_ENV, raising=False)
    runner = Runner("lonely_runner", REPOSITORY)
    with pytest.raises(BentoMLException, match=r"nvidia-pytriton==0\.7\.0") as raised:
        runner.init_local(quiet=True, config=RunnerConfig())
    assert "Triton runner 'lonely_runner': no tritonserver found" in raised.value.message

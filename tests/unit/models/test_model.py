"""Model, ModelInfo, ModelSignature: model.yaml round trips and to_runner's framework lookup."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bentoml_classic import models
from bentoml_classic.exceptions import BentoMLException, InvalidArgument, StateException
from bentoml_classic.models import Model, ModelInfo, ModelSignature
from bentoml_classic.runner import Runner

FAKE_FRAMEWORK = """
from bentoml_classic.runner import Runnable


def get_runnable(model):
    class Doubler(Runnable):
        def __init__(self):
            self.factor = int(open(model.path_of("factor.txt")).read())

        @Runnable.method(batchable=True, batch_dim=0)
        def predict(self, x):
            return [self.factor * v for v in x]

    return Doubler
"""


@pytest.fixture
def fake_framework(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A framework module the core has never heard of, importable under a unique name."""
    name = f"fake_framework_{uuid.uuid4().hex[:8]}"
    (tmp_path / "fwmods").mkdir()
    (tmp_path / "fwmods" / f"{name}.py").write_text(FAKE_FRAMEWORK)
    monkeypatch.syspath_prepend(str(tmp_path / "fwmods"))
    return name


def save_fake(module: str, name: str = "doubler", **kwargs: object) -> Model:
    with models.create(name, module=module, **kwargs) as model:  # type: ignore[arg-type]
        Path(model.path_of("factor.txt")).write_text("2")
    return model


def test_signature_defaults_and_conversion() -> None:
    assert ModelSignature() == ModelSignature(batchable=False, batch_dim=0)
    sig = ModelSignature.convert({"batchable": True, "batch_dim": [0, 1]}, "predict")
    assert sig == ModelSignature(batchable=True, batch_dim=(0, 1))
    assert sig.to_dict() == {"batchable": True, "batch_dim": [0, 1]}
    assert ModelSignature.convert({}) == ModelSignature()
    assert ModelSignature.convert(sig) is sig


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"batchable": True, "batch_size": 4}, "batch_size"),
        ({"batch_dim": "0"}, "batch_dim"),
        ({"batch_dim": (0, 1, 2)}, "batch_dim"),
        ({"batchable": "yes"}, "batchable"),
        ("batchable", "dict or ModelSignature"),
    ],
)
def test_bad_signatures_are_refused(value: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ModelSignature.convert(value, "predict")  # type: ignore[arg-type]


def test_model_info_round_trips_through_plain_yaml() -> None:
    info = ModelInfo(
        name="iris",
        version="0123456789abcdef",
        module="some.framework",
        labels={"stage": "dev"},
        metadata={"acc": 0.9, "classes": ["a", "b"]},
        signatures={"predict": ModelSignature(True, (0, 1))},
        options={"opt": 1},
    )
    text = info.to_yaml()
    assert "!!python" not in text and "!!" not in text  # nothing but plain YAML
    assert text.startswith("api_version: v1\nname: iris\n")  # readable, in a sensible order
    data = yaml.safe_load(text)
    assert data["signatures"] == {"predict": {"batchable": True, "batch_dim": [0, 1]}}
    assert data["context"]["python_version"] == ".".join(map(str, sys.version_info[:3]))
    again = ModelInfo.from_dict(data)
    assert again == info
    assert again.creation_time.tzinfo is not None
    assert again.creation_time.utcoffset() == UTC.utcoffset(None)


def test_model_info_refuses_unknown_api_version() -> None:
    data = ModelInfo(name="a", version="b", module="m").to_dict()
    data["api_version"] = "v9"
    with pytest.raises(ValueError, match="v9"):
        ModelInfo.from_dict(data)


def test_saved_model_records_context_and_utc_creation_time(
    bentoml_home: Path, fake_framework: str
) -> None:
    before = datetime.now(UTC)
    model = save_fake(fake_framework)
    loaded = models.get("doubler")
    assert loaded.info.creation_time == model.info.creation_time
    assert before <= loaded.creation_time <= datetime.now(UTC)
    assert loaded.info.creation_time.tzinfo is not None
    context = loaded.info.context
    assert set(context) == {"python_version", "bentoml_classic_version", "framework_versions"}
    assert context["bentoml_classic_version"] not in ("", None)


def test_path_of_joins_the_model_directory(bentoml_home: Path, fake_framework: str) -> None:
    model = models.get(save_fake(fake_framework).tag)
    assert model.path_of("factor.txt") == str(Path(model.path) / "factor.txt")
    assert Path(model.path_of("factor.txt")).read_text() == "2"
    assert repr(model) == f'Model(tag="{model.tag}", path="{model.path}")'


def test_to_runner_imports_the_module_recorded_in_model_yaml(
    bentoml_home: Path, fake_framework: str
) -> None:
    model = models.get(save_fake(fake_framework).tag)
    assert fake_framework not in sys.modules  # not imported until a runner is wanted
    runner = model.to_runner()
    assert isinstance(runner, Runner)
    assert fake_framework in sys.modules
    assert runner.name == "doubler"
    assert runner.models == [model]
    assert runner.predict.config.batchable is True
    with pytest.raises(StateException, match="init_local"):
        runner.predict.run([1])
    runner.init_local(quiet=True)
    assert runner.predict.run([1, 2, 3]) == [2, 4, 6]


def test_to_runner_passes_its_arguments_through(bentoml_home: Path, fake_framework: str) -> None:
    model = save_fake(fake_framework)
    runner = model.to_runner(
        name="custom",
        max_batch_size=32,
        max_latency_ms=5,
        method_configs={"predict": {"max_batch_size": 8}},
        embedded=True,
    )
    assert runner.name == "custom"
    assert runner.max_batch_size == 32 and runner.max_latency_ms == 5
    assert runner.predict.max_batch_size == 8
    assert runner.predict.max_latency_ms == 5
    assert runner.embedded is True


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_batch_size": 0}, "max_batch_size must be a positive integer"),
        ({"max_latency_ms": -1}, "max_latency_ms must be a positive number"),
        ({"method_configs": {"predcit": {}}}, "predcit"),
        ({"method_configs": {"predict": {"max_batch": 4}}}, "max_batch"),
        (
            {"method_configs": {"predict": {"max_batch_size": -2}}},
            "method_configs['predict']['max_batch_size']",
        ),
    ],
)
def test_to_runner_refuses_invalid_batching_options(
    bentoml_home: Path, fake_framework: str, options: dict[str, object], named: str
) -> None:
    model = save_fake(fake_framework)
    with pytest.raises(InvalidArgument) as info:
        model.to_runner(**options)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_to_runner_explains_a_missing_or_unusable_framework(
    bentoml_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = save_fake("no_such_framework_module_xyz", "gone")
    with pytest.raises(BentoMLException, match="no_such_framework_module_xyz") as info:
        gone.to_runner()
    assert "gone:" in info.value.message
    (tmp_path / "not_a_framework_xyz.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    odd = save_fake("not_a_framework_xyz", "odd")
    with pytest.raises(InvalidArgument, match="get_runnable"):
        odd.to_runner()


def test_core_imports_no_framework() -> None:
    """Importing the package, the store and both adapters loads neither sklearn nor joblib."""
    code = textwrap.dedent(
        """
        import sys
        import bentoml_classic, bentoml_classic.models
        import bentoml_classic.frameworks.sklearn, bentoml_classic.frameworks.picklable_model
        heavy = sorted(m for m in ("sklearn", "joblib", "torch") if m in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "none"
    imports = re.compile(r"^\s*(from|import)\s+\S*(frameworks|sklearn|joblib|torch)", re.M)
    for source in Path(models.__file__).parent.glob("*.py"):
        assert not imports.search(source.read_text()), source

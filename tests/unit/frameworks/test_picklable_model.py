"""bentoml.picklable_model: any picklable object, called through ``__call__`` by default."""

from __future__ import annotations

import functools
import operator
import os
from collections import Counter
from pathlib import Path

import bentoml_classic.frameworks.picklable_model as picklable_model
import bentoml_classic.frameworks.sklearn as bento_sklearn
import numpy as np
import pytest

from bentoml_classic.exceptions import InvalidArgument, StateException
from bentoml_classic.models import ModelSignature
from tests.support.models import tiny_classifier


def test_save_and_load_any_callable(bentoml_home: Path) -> None:
    triple = functools.partial(operator.mul, 3)
    saved = picklable_model.save_model("triple", triple, metadata={"factor": 3})
    assert saved.info.module == picklable_model.MODULE_NAME
    assert saved.info.signatures == {"__call__": ModelSignature(batchable=False, batch_dim=0)}
    loaded = picklable_model.load_model("triple:latest")
    assert loaded(5) == 15
    assert picklable_model.get("triple").info.metadata == {"factor": 3}


def test_file_is_pickle_protocol_5(bentoml_home: Path) -> None:
    saved = picklable_model.save_model("counter", Counter("hello"), signatures={"most_common": {}})
    header = Path(saved.path_of(picklable_model.MODEL_FILENAME)).read_bytes()[:2]
    assert header == b"\x80\x05"


def test_default_runner_method_is_call(bentoml_home: Path) -> None:
    picklable_model.save_model("triple", functools.partial(operator.mul, 3))
    runner = picklable_model.get("triple").to_runner()
    assert set(runner.runner_methods) == {"__call__"}
    with pytest.raises(StateException, match="init_local"):
        runner.run(2)
    runner.init_local(quiet=True)
    assert runner.run(4) == 12
    assert runner.runner_methods["__call__"].run(5) == 15


def test_named_signatures_with_batching(bentoml_home: Path) -> None:
    clf = tiny_classifier(2, 1)
    x = np.array([[0.0, 1.0], [0.0, -1.0], [2.0, 0.5]])
    picklable_model.save_model(
        "clf", clf, signatures={"predict": {"batchable": True, "batch_dim": (0, 0)}}
    )
    runner = picklable_model.get("clf").to_runner()
    assert runner.predict.config.batchable is True
    assert runner.predict.config.batch_dim == (0, 0)
    runnable = runner.runnable_class
    assert runnable.SUPPORTED_RESOURCES == ("cpu",)
    assert runnable.SUPPORTS_CPU_MULTI_THREADING is False  # arbitrary Python holds the GIL
    runner.init_local(quiet=True)
    np.testing.assert_array_equal(runner.predict.run(x), clf.predict(x))


def test_default_signature_needs_a_callable(bentoml_home: Path) -> None:
    with pytest.raises(InvalidArgument, match="'__call__'"):
        picklable_model.save_model("data", {"not": "callable"})
    with pytest.raises(InvalidArgument, match="'fly'"):
        picklable_model.save_model("data", tiny_classifier(2, 1), signatures={"fly": {}})
    assert not (bentoml_home / "models" / "data").exists()


def test_pickling_failure_leaves_no_trace(bentoml_home: Path) -> None:
    kept = picklable_model.save_model("fn", functools.partial(operator.add, 1))

    def local_function(x: int) -> int:  # pickle cannot find a local function by name
        return x

    with pytest.raises(InvalidArgument, match="cannot serialise function"):
        picklable_model.save_model("fn", local_function)
    with pytest.raises(InvalidArgument):
        picklable_model.save_model("brand_new", lambda x: x)
    root = bentoml_home / "models"
    assert sorted(n for n in os.listdir(root) if not n.startswith(".")) == ["fn"]
    assert os.listdir(root / ".tmp") == []
    assert picklable_model.get("fn:latest").tag == kept.tag
    assert sorted(os.listdir(root / "fn")) == sorted(["latest", kept.tag.version])


def test_framework_mismatch_names_both_frameworks(bentoml_home: Path) -> None:
    saved = bento_sklearn.save_model("clf", tiny_classifier(2, 1))
    with pytest.raises(InvalidArgument) as info:
        picklable_model.get("clf")
    message = info.value.message
    assert f"model {saved.tag} was saved by bentoml_classic.frameworks.sklearn" in message
    assert "not bentoml_classic.frameworks.picklable_model" in message
    assert "bentoml.sklearn.get" in message
    assert info.value.detail["saved_by"] == bento_sklearn.MODULE_NAME


def test_custom_objects_are_kept_beside_the_model(bentoml_home: Path) -> None:
    saved = picklable_model.save_model(
        "triple", functools.partial(operator.mul, 3), custom_objects={"unit": "m"}
    )
    assert os.path.exists(saved.path_of("custom_objects.pkl"))
    assert picklable_model.get("triple").custom_objects == {"unit": "m"}

"""bentoml.sklearn: save/load/get with real (tiny) estimators, and runners built from them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import bentoml_classic.frameworks.picklable_model as picklable_model
import bentoml_classic.frameworks.sklearn as bento_sklearn
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from bentoml_classic import models
from bentoml_classic.exceptions import InvalidArgument, ModelNotFound, StateException
from bentoml_classic.models import ModelSignature
from bentoml_classic.runner import Runnable
from tests.support.models import tiny_classifier


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()  # bundled with scikit-learn: nothing is downloaded
    return data.data, data.target


@pytest.fixture(scope="module")
def clf(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    x, y = iris
    return LogisticRegression(max_iter=500).fit(x, y)


def store_entries(home: Path) -> list[str]:
    root = home / "models"
    """Model names, plus anything left in the temporary directory (which must be nothing)."""
    names = [n for n in os.listdir(root) if not n.startswith(".")] if root.exists() else []
    tmp = root / ".tmp"
    return sorted(names) + (sorted(os.listdir(tmp)) if tmp.exists() else [])


def test_save_get_and_load_round_trip(
    bentoml_home: Path, clf: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris
    saved = bento_sklearn.save_model(
        "iris_clf", clf, labels={"owner": "ml"}, metadata={"acc": clf.score(*iris)}
    )
    assert saved.tag.name == "iris_clf"
    assert saved.path == str(bentoml_home / "models" / "iris_clf" / saved.tag.version)
    got = bento_sklearn.get("iris_clf:latest")
    assert got.tag == saved.tag
    assert got.info.module == bento_sklearn.MODULE_NAME == "bentoml_classic.frameworks.sklearn"
    assert got.info.labels == {"owner": "ml"}
    assert got.info.metadata["acc"] == pytest.approx(clf.score(*iris))
    assert got.info.signatures == {"predict": ModelSignature(batchable=False, batch_dim=0)}
    assert "scikit-learn" in got.info.context["framework_versions"]
    for source in ("iris_clf", saved.tag, got):
        loaded = bento_sklearn.load_model(source)
        assert isinstance(loaded, LogisticRegression)
        np.testing.assert_array_equal(loaded.predict(x), clf.predict(x))


def test_runner_predicts_like_the_model(
    bentoml_home: Path, clf: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris
    bento_sklearn.save_model("iris_clf", clf)
    runner = bento_sklearn.get("iris_clf:latest").to_runner()
    assert runner.name == "iris_clf"
    runner.init_local(quiet=True)
    np.testing.assert_array_equal(runner.predict.run(x[:10]), clf.predict(x[:10]))
    np.testing.assert_array_equal(runner.run(x[-5:]), clf.predict(x[-5:]))  # the default method
    runner.destroy()


def test_runner_before_init_local_says_how_to_fix_it(
    bentoml_home: Path, clf: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    runner = bento_sklearn.save_model("iris_clf", clf).to_runner()
    with pytest.raises(StateException, match="init_local"):
        runner.predict.run(iris[0][:1])


def test_runnable_class_declares_resources_and_one_method_per_signature(
    bentoml_home: Path, clf: LogisticRegression
) -> None:
    model = bento_sklearn.save_model(
        "iris_clf", clf, signatures={"predict": {}, "predict_proba": {"batchable": True}}
    )
    runnable = bento_sklearn.get_runnable(model)
    assert issubclass(runnable, Runnable)
    assert runnable.SUPPORTS_CPU_MULTI_THREADING is True
    assert runnable.SUPPORTED_RESOURCES == ("cpu",)
    assert set(runnable.bentoml_runnable_methods__) == {"predict", "predict_proba"}
    assert runnable.bentoml_runnable_methods__["predict_proba"].batchable is True
    # A fresh class per model: one model's methods never leak into another's runnable.
    other = bento_sklearn.save_model("other", clf)
    assert set(bento_sklearn.get_runnable(other).bentoml_runnable_methods__) == {"predict"}


def test_custom_signatures_reach_the_runner_method_config(
    bentoml_home: Path, clf: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris
    bento_sklearn.save_model(
        "iris_clf",
        clf,
        signatures={
            "predict": {"batchable": True, "batch_dim": 0},
            "predict_proba": ModelSignature(batchable=True, batch_dim=(0, 0)),
        },
    )
    runner = bento_sklearn.get("iris_clf").to_runner(max_batch_size=64)
    assert runner.predict.config.batchable is True
    assert runner.predict.config.batch_dim == 0
    assert runner.predict_proba.config.batch_dim == (0, 0)
    assert runner.predict.max_batch_size == 64
    runner.init_local(quiet=True)
    np.testing.assert_allclose(runner.predict_proba.run(x[:4]), clf.predict_proba(x[:4]))


def test_signature_that_is_not_a_method_is_refused(
    bentoml_home: Path, clf: LogisticRegression
) -> None:
    with pytest.raises(InvalidArgument, match="'transform'"):
        bento_sklearn.save_model("iris_clf", clf, signatures={"transform": {}})
    with pytest.raises(InvalidArgument, match="at least one"):
        bento_sklearn.save_model("iris_clf", clf, signatures={})
    assert store_entries(bentoml_home) == []


def test_framework_mismatch_names_both_frameworks(bentoml_home: Path) -> None:
    saved = picklable_model.save_model("iris", tiny_classifier(3, 0), signatures={"predict": {}})
    with pytest.raises(InvalidArgument) as info:
        bento_sklearn.get(f"iris:{saved.tag.version}")
    message = info.value.message
    assert str(saved.tag) in message
    assert "bentoml_classic.frameworks.picklable_model" in message
    assert "bentoml_classic.frameworks.sklearn" in message
    assert "bentoml.picklable_model.get" in message
    with pytest.raises(InvalidArgument, match="picklable_model"):
        bento_sklearn.load_model(saved)


def test_missing_model_is_model_not_found(bentoml_home: Path) -> None:
    with pytest.raises(ModelNotFound, match="nothing:latest"):
        bento_sklearn.get("nothing:latest")


def test_pickling_failure_leaves_no_trace(bentoml_home: Path) -> None:
    first = bento_sklearn.save_model("iris_clf", tiny_classifier(3, 0))
    broken = tiny_classifier(3, 0)
    broken.lock_ = threading.Lock()  # joblib cannot pickle a lock
    with pytest.raises(InvalidArgument, match="cannot serialise LogisticRegression"):
        bento_sklearn.save_model("iris_clf", broken)
    with pytest.raises(InvalidArgument):
        bento_sklearn.save_model("brand_new", broken)
    assert store_entries(bentoml_home) == ["iris_clf"]
    assert [m.tag for m in models.list("iris_clf")] == [first.tag]
    assert bento_sklearn.get("iris_clf:latest").tag == first.tag


def test_custom_objects_round_trip(bentoml_home: Path) -> None:
    saved = bento_sklearn.save_model(
        "iris_clf", tiny_classifier(3, 0), custom_objects={"names": ["neg", "pos"]}
    )
    assert bento_sklearn.get(saved.tag).custom_objects == {"names": ["neg", "pos"]}


def test_labels_are_validated(bentoml_home: Path) -> None:
    with pytest.raises(InvalidArgument, match="'version'"):
        bento_sklearn.save_model("iris_clf", tiny_classifier(3, 0), labels={"version": 2})  # type: ignore[dict-item]
    assert store_entries(bentoml_home) == []

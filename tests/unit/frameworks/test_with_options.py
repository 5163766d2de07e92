"""``Model.with_options``: keyword arguments bound into a method's calls, other options refused."""

from __future__ import annotations

import asyncio
import functools
import operator
from pathlib import Path

import bentoml_classic.frameworks.picklable_model as picklable_model
import bentoml_classic.frameworks.sklearn as bento_sklearn
import numpy as np
import pytest
from sklearn.linear_model import BayesianRidge

from bentoml_classic import models
from bentoml_classic.exceptions import InvalidArgument

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])


@pytest.fixture
def ridge(bentoml_home: Path) -> models.Model:
    """An estimator whose ``predict`` takes a keyword (``return_std``)."""
    estimator = BayesianRidge().fit(X, X.sum(axis=1))
    return bento_sklearn.save_model("ridge", estimator)


def test_partial_kwargs_are_bound_into_the_runner_method(ridge: models.Model) -> None:
    plain = bento_sklearn.get("ridge:latest").to_runner(name="plain")
    with_std = (
        bento_sklearn.get("ridge:latest")
        .with_options(partial_kwargs={"predict": {"return_std": True}})
        .to_runner(name="with_std")
    )
    plain.init_local(quiet=True)
    with_std.init_local(quiet=True)
    mean = plain.predict.run(X)
    assert isinstance(mean, np.ndarray) and mean.shape == (4,)
    bound_mean, std = with_std.predict.run(X)  # the bound keyword made predict return a pair
    np.testing.assert_allclose(bound_mean, mean)
    assert std.shape == (4,) and (std > 0).all()


def test_the_call_s_own_keywords_win(ridge: models.Model) -> None:
    runner = ridge.with_options(partial_kwargs={"predict": {"return_std": True}}).to_runner()
    runner.init_local(quiet=True)
    assert isinstance(runner.predict.run(X, return_std=False), np.ndarray)


def test_async_run_and_batched_methods_get_the_keywords(bentoml_home: Path) -> None:
    saved = picklable_model.save_model(
        "rounder", np.round, signatures={"__call__": {"batchable": True}}
    )
    runner = saved.with_options(partial_kwargs={"__call__": {"decimals": 1}}).to_runner()
    runner.init_local(quiet=True)
    values = np.array([1.234, 5.678])
    np.testing.assert_array_equal(runner.run(values), [1.2, 5.7])
    np.testing.assert_array_equal(asyncio.run(runner.async_run(values)), [1.2, 5.7])


def test_the_store_and_the_original_are_untouched(ridge: models.Model) -> None:
    configured = ridge.with_options(partial_kwargs={"predict": {"return_std": True}})
    assert configured.info.options == {"partial_kwargs": {"predict": {"return_std": True}}}
    assert ridge.info.options == {}
    assert bento_sklearn.get("ridge:latest").info.options == {}
    assert configured.tag == ridge.tag and configured.path == ridge.path
    # given again, an option replaces the earlier value (classic: attrs.evolve)
    again = configured.with_options(partial_kwargs={})
    assert again.info.options == {"partial_kwargs": {}}
    assert isinstance(again.to_runner().runnable_class, type)


def test_other_classic_options_are_refused_by_name(ridge: models.Model) -> None:
    with pytest.raises(InvalidArgument, match=r"bentoml\.sklearn .*\['partial_kwargs'\].*'task'"):
        ridge.with_options(task="text-classification")
    saved = picklable_model.save_model("triple", functools.partial(operator.mul, 3))
    with pytest.raises(InvalidArgument, match=r"bentoml\.picklable_model.*'providers'") as info:
        saved.with_options(providers=["CPUExecutionProvider"], partial_kwargs={})
    assert info.value.detail == {"unknown": ["providers"], "supported": ["partial_kwargs"]}


def test_partial_kwargs_are_checked(ridge: models.Model) -> None:
    with pytest.raises(InvalidArgument, match=r"method 'predict_proba'.*\['predict'\]"):
        ridge.with_options(partial_kwargs={"predict_proba": {"x": 1}})
    with pytest.raises(InvalidArgument, match="must map method names"):
        ridge.with_options(partial_kwargs=[("predict", {})])
    with pytest.raises(InvalidArgument, match=r"partial_kwargs=\{'predict': \.\.\.\}"):
        ridge.with_options(partial_kwargs={"predict": 1})
    with pytest.raises(InvalidArgument, match="dict of keyword arguments"):
        ridge.with_options(partial_kwargs={"predict": {1: "x"}})
    assert ridge.with_options(partial_kwargs=None).info.options == {"partial_kwargs": {}}


def test_a_framework_without_options_refuses_them(bentoml_home: Path) -> None:
    with models.create("bare", module="json") as saved:  # a module with no check_options
        pass
    assert saved.with_options().info == saved.info
    with pytest.raises(InvalidArgument, match="json, which takes no options"):
        saved.with_options(partial_kwargs={})

"""scikit-learn adapter: ``bentoml.sklearn.save_model/load_model/get``; files written by joblib.

joblib and scikit-learn are imported inside the functions that need them, so importing the
package (as every API worker does) stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bentoml_classic.models import Model
from bentoml_classic.runner import Runnable
from bentoml_classic.tag import Tag

from . import adapter
from .adapter import SignaturesLike

MODULE_NAME = "bentoml_classic.frameworks.sklearn"
MODEL_FILENAME = "saved_model.pkl"
DEFAULT_SIGNATURES: Mapping[str, Mapping[str, Any]] = {"predict": {"batchable": False}}

__all__ = ["MODULE_NAME", "check_options", "get", "get_runnable", "load_model", "save_model"]

#: checks the options of ``Model.with_options`` (``partial_kwargs``) for the model store
check_options = adapter.check_options


def save_model(
    name: str,
    model: Any,
    *,
    signatures: SignaturesLike | None = None,
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    custom_objects: Mapping[str, Any] | None = None,
) -> Model:
    """Save a fitted estimator (or pipeline) to the model store and return the saved Model."""
    import joblib

    def write(saved: Model) -> None:
        with adapter.explain_pickling_errors(model):
            joblib.dump(model, saved.path_of(MODEL_FILENAME))

    return adapter.save_model(
        name,
        model,
        module=MODULE_NAME,
        default_signatures=DEFAULT_SIGNATURES,
        write=write,
        signatures=signatures,
        labels=labels,
        metadata=metadata,
        custom_objects=custom_objects,
        framework_versions=adapter.distribution_versions("scikit-learn", "joblib"),
    )


def get(tag: Tag | str) -> Model:
    """The model ``tag`` names; refuses one that another framework saved."""
    return adapter.get_model(tag, MODULE_NAME)


def load_model(tag_or_model: Tag | str | Model) -> Any:
    """Load the estimator itself, from a tag or a Model."""
    import joblib

    model = adapter.get_model(tag_or_model, MODULE_NAME)
    return joblib.load(model.path_of(MODEL_FILENAME))


def get_runnable(model: Model) -> type[Runnable]:
    """The Runnable a runner of this model hosts: one method per saved signature.

    scikit-learn releases the GIL in its numeric kernels, so several threads per worker help.
    """
    return adapter.build_runnable(
        model,
        load_model,
        class_name="SklearnRunnable",
        supported_resources=("cpu",),
        supports_cpu_multi_threading=True,
    )

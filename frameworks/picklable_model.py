"""Adapter for any picklable Python object: ``bentoml.picklable_model.save_model`` and friends.

Objects are written with pickle protocol 5. Loading a pickle runs code chosen by whoever wrote
it: load only models from stores you trust (the store is a local directory, as in classic).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from bentoml_classic.models import Model
from bentoml_classic.runner import Runnable
from bentoml_classic.tag import Tag

from . import adapter
from .adapter import SignaturesLike

MODULE_NAME = "bentoml_classic.frameworks.picklable_model"
MODEL_FILENAME = "saved_model.pkl"
PICKLE_PROTOCOL = 5
DEFAULT_SIGNATURES: Mapping[str, Mapping[str, Any]] = {"__call__": {"batchable": False}}

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
    """Pickle ``model`` into the model store and return the saved Model."""

    def write(saved: Model) -> None:
        with (
            adapter.explain_pickling_errors(model),
            open(saved.path_of(MODEL_FILENAME), "wb") as f,
        ):
            pickle.dump(model, f, protocol=PICKLE_PROTOCOL)

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
    )


def get(tag: Tag | str) -> Model:
    """The model ``tag`` names; refuses one that another framework saved."""
    return adapter.get_model(tag, MODULE_NAME)


def load_model(tag_or_model: Tag | str | Model) -> Any:
    """Unpickle the saved object, from a tag or a Model."""
    model = adapter.get_model(tag_or_model, MODULE_NAME)
    with open(model.path_of(MODEL_FILENAME), "rb") as f:
        return pickle.load(f)


def get_runnable(model: Model) -> type[Runnable]:
    """The Runnable a runner of this model hosts: one method per saved signature.

    Nothing is known about the object's threading, so one thread per worker is assumed safe.
    """
    return adapter.build_runnable(
        model,
        load_model,
        class_name="PicklableModelRunnable",
        supported_resources=("cpu",),
        supports_cpu_multi_threading=False,
    )

"""What every framework adapter (``frameworks/*.py``) does the same way.

An adapter only knows how to write and read its framework's files; saving through the store,
checking signatures, refusing a model saved by another framework, and building the Runnable
class that a runner hosts all live here. A new adapter is a few lines on top of this module::

    MODULE_NAME = "bentoml_classic.frameworks.myfw"

    def save_model(name, model, **kw):
        return adapter.save_model(name, model, module=MODULE_NAME,
                                  default_signatures={"predict": {}},
                                  write=lambda m: myfw.save(model, m.path_of("model.bin")), **kw)

    def get_runnable(model):
        return adapter.build_runnable(model, load_model, class_name="MyfwRunnable")

    check_options = adapter.check_options  # Model.with_options(partial_kwargs=...)
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata as importlib_metadata
from typing import Any

from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.models.model import Model, ModelSignature, convert_signatures
from bentoml_classic.models.store import get_default_store
from bentoml_classic.runner.runnable import Runnable, RunnableMethodConfig
from bentoml_classic.tag import Tag

FRAMEWORKS_PACKAGE = "bentoml_classic.frameworks."

SignaturesLike = Mapping[str, ModelSignature | Mapping[str, Any]]


def public_name(module: str) -> str:
    """``bentoml_classic.frameworks.sklearn`` -> ``bentoml.sklearn``, as users write it."""
    if module.startswith(FRAMEWORKS_PACKAGE):
        return "bentoml." + module[len(FRAMEWORKS_PACKAGE) :]
    return "bentoml.models"


def distribution_versions(*distributions: str) -> dict[str, str]:
    """Installed versions of the given distributions, read without importing them."""
    versions: dict[str, str] = {}
    for dist in distributions:
        try:
            versions[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def resolve_signatures(
    obj: Any, signatures: SignaturesLike | None, default: SignaturesLike
) -> dict[str, ModelSignature]:
    """Normalise signatures (default when None) and check each names a method of ``obj``."""
    resolved = convert_signatures(default if signatures is None else signatures)
    if not resolved:
        raise InvalidArgument("signatures must name at least one method of the model")
    for method in resolved:
        if not callable(getattr(obj, method, None)):
            raise InvalidArgument(
                f"signature {method!r} is not a method of {type(obj).__name__}: "
                f"the model has no callable attribute {method!r}"
            )
    return resolved


@contextmanager
def explain_pickling_errors(obj: Any) -> Iterator[None]:
    """Turn the assorted errors that pickling raises into one InvalidArgument naming the type."""
    try:
        yield
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InvalidArgument(
            f"cannot serialise {type(obj).__name__}: {type(exc).__name__}: {exc}"
        ) from exc


def save_model(
    name: str,
    obj: Any,
    *,
    module: str,
    default_signatures: SignaturesLike,
    write: Callable[[Model], None],
    signatures: SignaturesLike | None = None,
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    custom_objects: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    framework_versions: Mapping[str, str] | None = None,
) -> Model:
    """Save ``obj`` into the default store; ``write(model)`` puts the files in ``model.path``."""
    resolved = resolve_signatures(obj, signatures, default_signatures)
    store = get_default_store()
    with store.create(
        name,
        module=module,
        labels=labels,
        metadata=metadata,
        signatures=resolved,
        options=options,
        custom_objects=custom_objects,
        framework_versions=framework_versions,
    ) as model:
        write(model)
    return model


def get_model(tag_or_model: Tag | str | Model, module: str) -> Model:
    """Find a model in the default store and check that ``module`` saved it."""
    model = (
        tag_or_model if isinstance(tag_or_model, Model) else get_default_store().get(tag_or_model)
    )
    if model.info.module != module:
        raise InvalidArgument(
            f"model {model.tag} was saved by {model.info.module}, not {module}; "
            f"use {public_name(model.info.module)}.get",
            detail={"tag": str(model.tag), "saved_by": model.info.module, "expected": module},
        )
    return model


#: the options of ``Model.with_options`` every adapter takes. Classic BentoML's frameworks each
#: had their own set (``partial_kwargs`` for picklable, pytorch, keras, tensorflow and
#: torchscript models; ``task``/``pipeline``/``kwargs`` for transformers, ``providers`` and
#: ``session_options`` for ONNX, ...); the frameworks here have no other knobs, so every other
#: name is refused rather than silently ignored.
SUPPORTED_OPTIONS = ("partial_kwargs",)


def check_options(model: Model, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``model.with_options(**options)``, checked; InvalidArgument names what is
    wrong. ``partial_kwargs`` maps a method to keyword arguments bound into its every call
    (those of the call itself win, as in classic BentoML)."""
    unknown = sorted(set(options) - set(SUPPORTED_OPTIONS))
    if unknown:
        raise InvalidArgument(
            f"{public_name(model.info.module)} models take the option(s) "
            f"{list(SUPPORTED_OPTIONS)} in with_options(), not {unknown}",
            detail={"unknown": unknown, "supported": list(SUPPORTED_OPTIONS)},
        )
    checked: dict[str, Any] = {}
    if "partial_kwargs" in options:
        checked["partial_kwargs"] = _check_partial_kwargs(model, options["partial_kwargs"])
    return checked


def _check_partial_kwargs(model: Model, value: Any) -> dict[str, dict[str, Any]]:
    example = "such as {'predict': {'some_kw': 1}}"
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(
            f"with_options(partial_kwargs=...) must map method names to keyword arguments, "
            f"{example}; got {type(value).__name__}"
        )
    methods = sorted(model.info.signatures)
    checked: dict[str, dict[str, Any]] = {}
    for method, kwargs in value.items():
        if method not in model.info.signatures:
            raise InvalidArgument(
                f"with_options(partial_kwargs=...) names method {method!r}, which model "
                f"{model.tag} does not have; its methods: {methods}",
                detail={"method": method, "methods": methods},
            )
        if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
            raise InvalidArgument(
                f"with_options(partial_kwargs={{{method!r}: ...}}) must be a dict of keyword "
                f"arguments, {example}; got {kwargs!r:.80}"
            )
        checked[method] = dict(kwargs)
    return checked


def _runnable_method(method: str, bound: Mapping[str, Any] | None = None) -> Callable[..., Any]:
    if not bound:

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return getattr(self.model, method)(*args, **kwargs)

    else:
        partial_kwargs = dict(bound)

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return getattr(self.model, method)(*args, **{**partial_kwargs, **kwargs})

    call.__name__ = call.__qualname__ = method
    return call


def build_runnable(
    model: Model,
    load: Callable[[Model], Any],
    *,
    class_name: str,
    supported_resources: tuple[str, ...] = ("cpu",),
    supports_cpu_multi_threading: bool = True,
    make_method: Callable[[str, Mapping[str, Any] | None], Callable[..., Any]] | None = None,
) -> type[Runnable]:
    """A fresh Runnable subclass whose ``__init__`` loads ``model`` with ``load`` and which has
    one runnable method per signature, forwarding to the loaded object's method of that name
    (with the keyword arguments of ``model.with_options(partial_kwargs=...)`` bound in).

    ``make_method(name, partial_kwargs)`` builds a method instead, for a framework that turns
    arguments and results on their way (``pytorch.py``: tensors, device, inference mode).

    A new class per call keeps models apart: two runners of one framework never share methods.
    """

    def __init__(self: Any) -> None:
        self.model = load(model)

    runnable_cls: type[Runnable] = type(
        class_name,
        (Runnable,),
        {
            "__init__": __init__,
            "__doc__": f"Runs {model.tag} (saved by {model.info.module}).",
            "SUPPORTED_RESOURCES": tuple(supported_resources),
            "SUPPORTS_CPU_MULTI_THREADING": supports_cpu_multi_threading,
            "bento_model": model,
        },
    )
    partial_kwargs = model.info.options.get("partial_kwargs") or {}
    make = make_method or _runnable_method
    for method, sig in model.info.signatures.items():
        runnable_cls.add_method(
            make(method, partial_kwargs.get(method)),
            method,
            RunnableMethodConfig(batchable=sig.batchable, batch_dim=sig.batch_dim),
        )
    return runnable_cls

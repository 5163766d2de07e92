"""PyTorch adapter: ``bentoml.pytorch.save_model/load_model/get`` for ``torch.nn.Module``.

The module is written whole with ``torch.save`` (a pickle that names its classes, plus the
tensors' storages), as classic BentoML did; classes defined in the training script itself
(``__main__``) are written by value with cloudpickle, which classic used for every module.
Loading it back needs ``weights_only=False``, which torch 2.6 and later no longer assume: an
explicit choice here, because a whole module is code. Loading runs whatever the pickle names;
the store is trusted as the directory of its owner
(docs/architecture.md, "Model store": who can write it, and what loading executes).

A call's arrays become tensors without a dtype change, unless the signature's ``input_spec``
fixes one (``torch_tensors.py``); it runs under ``torch.inference_mode()`` on the device the
scheduler gave the worker (``cuda`` with ``nvidia.com/gpu`` resources, else ``cpu``), and its
tensors leave on the CPU, where the runner protocol sends them as raw buffers.

torch is imported only by the functions that need it: a service that makes a runner of a
PyTorch model (``bentoml.pytorch.get(...).to_runner()``) imports no torch in its API workers.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Mapping
from typing import Any

from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.models import Model
from bentoml_classic.runner import Runnable
from bentoml_classic.tag import Tag

from . import adapter
from .adapter import SignaturesLike
from .torch_tensors import (
    InputSpecs,
    TensorSpec,
    check_dtype_names,
    convert_input_specs,
    to_caller,
    to_tensor,
    worker_device,
)

MODULE_NAME = "bentoml_classic.frameworks.pytorch"
MODEL_FILENAME = "saved_model.pt"
#: the ``input_spec`` of each signature, by method: model.yaml's signatures hold only what every
#: framework shares (batchable, batch_dim)
INPUT_SPECS_FILENAME = "input_specs.json"
DEFAULT_SIGNATURES: Mapping[str, Mapping[str, Any]] = {"__call__": {"batchable": False}}
GPU = "nvidia.com/gpu"
INSTALL_HINT = "bentoml.pytorch needs torch: pip install 'bentoml_classic[torch]'"

__all__ = [
    "MODULE_NAME",
    "TensorSpec",
    "check_options",
    "get",
    "get_runnable",
    "load_model",
    "save_model",
]

#: checks the options of ``Model.with_options`` (``partial_kwargs``) for the model store
check_options = adapter.check_options


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return torch


def _split_input_specs(
    signatures: SignaturesLike | None,
) -> tuple[SignaturesLike | None, dict[str, InputSpecs]]:
    """The signatures without their ``input_spec`` keys, and those specs by method."""
    if signatures is None or not isinstance(signatures, Mapping):
        return signatures, {}
    plain: dict[str, Any] = {}
    specs: dict[str, InputSpecs] = {}
    for method, sig in signatures.items():
        if isinstance(sig, Mapping) and "input_spec" in sig:
            specs[str(method)] = convert_input_specs(str(method), sig["input_spec"])
            plain[method] = {k: v for k, v in sig.items() if k != "input_spec"}
        else:
            plain[method] = sig
    return plain, specs


def _classes_in_main(module: Any) -> list[str]:
    return sorted(
        {type(m).__qualname__ for m in module.modules() if type(m).__module__ == "__main__"}
    )


def save_model(
    name: str,
    model: Any,
    *,
    signatures: SignaturesLike | None = None,
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    custom_objects: Mapping[str, Any] | None = None,
) -> Model:
    """Save a ``torch.nn.Module`` to the model store and return the saved Model.

    ``signatures`` as for every framework (default ``{"__call__": {"batchable": False}}``),
    plus, per method, an optional ``input_spec``: ``{"dtype": "float32", "shape": [-1, 8]}``
    for the first positional argument, or a list of such (None where anything goes).
    """
    torch = _import_torch()
    if not isinstance(model, torch.nn.Module):
        raise InvalidArgument(
            f"bentoml.pytorch.save_model takes a torch.nn.Module, got {type(model).__name__}",
            detail={"expected": "torch.nn.Module", "got": type(model).__name__},
        )
    # a class defined in the script being run (__main__) is not importable where the model
    # loads (a runner worker imports the service, not the training script): such a module is
    # pickled with cloudpickle, which writes those classes by value, as classic BentoML did
    by_value = bool(_classes_in_main(model))
    plain_signatures, specs = _split_input_specs(signatures)
    for method, method_specs in specs.items():
        check_dtype_names(method, method_specs)

    def write(saved: Model) -> None:
        with adapter.explain_pickling_errors(model):
            if by_value:
                import cloudpickle

                torch.save(model, saved.path_of(MODEL_FILENAME), pickle_module=cloudpickle)
            else:
                torch.save(model, saved.path_of(MODEL_FILENAME))
        unknown = sorted(set(specs) - set(saved.info.signatures))
        if unknown:
            raise InvalidArgument(f"input_spec given for {unknown}, which no signature names")
        with open(saved.path_of(INPUT_SPECS_FILENAME), "w", encoding="utf-8") as f:
            json.dump(
                {m: [None if s is None else s.to_dict() for s in ss] for m, ss in specs.items()}, f
            )

    return adapter.save_model(
        name,
        model,
        module=MODULE_NAME,
        default_signatures=DEFAULT_SIGNATURES,
        write=write,
        signatures=plain_signatures,
        labels=labels,
        metadata=metadata,
        custom_objects=custom_objects,
        framework_versions=adapter.distribution_versions("torch"),
    )


def get(tag: Tag | str) -> Model:
    """The model ``tag`` names; refuses one that another framework saved."""
    return adapter.get_model(tag, MODULE_NAME)


def load_model(tag_or_model: Tag | str | Model, device_id: str | None = "cpu") -> Any:
    """The saved ``torch.nn.Module``, on ``device_id`` (classic's argument), from a tag or a
    Model. Executes the pickle's code: load only from a store you trust."""
    model = adapter.get_model(tag_or_model, MODULE_NAME)
    torch = _import_torch()
    path = model.path_of(MODEL_FILENAME)
    try:
        # weights_only=False: a whole module is its classes, not just tensors (module docstring)
        loaded = torch.load(path, map_location=device_id, weights_only=False)
    except (ImportError, AttributeError) as exc:
        raise InvalidArgument(
            f"model {model.tag} names a class this process cannot import ({exc}); the module "
            "that defines it must be importable where the model loads (the service's directory)",
            detail={"tag": str(model.tag)},
        ) from exc
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise InvalidArgument(
            f"model {model.tag}: {MODEL_FILENAME} is not a torch module file "
            f"({type(exc).__name__})",
            detail={"tag": str(model.tag), "expected": "torch.nn.Module"},
        ) from exc
    if not isinstance(loaded, torch.nn.Module):
        raise InvalidArgument(
            f"model {model.tag}: {MODEL_FILENAME} holds a {type(loaded).__name__}, not a "
            "torch.nn.Module",
            detail={"tag": str(model.tag), "expected": "torch.nn.Module"},
        )
    return loaded


def input_specs(model: Model) -> dict[str, InputSpecs]:
    """The ``input_spec`` of each method, as saved (read without importing torch)."""
    try:
        with open(model.path_of(INPUT_SPECS_FILENAME), encoding="utf-8") as f:
            saved = json.load(f)
    except FileNotFoundError:
        return {}
    return {method: convert_input_specs(method, value) for method, value in saved.items()}


def _load_for_worker(model: Model) -> Any:
    """The module on this worker's device, in eval mode (dropout off, batch norm frozen)."""
    return load_model(model, device_id=worker_device()).eval()


def _method_maker(
    specs: Mapping[str, InputSpecs],
) -> Callable[[str, Mapping[str, Any] | None], Callable[..., Any]]:
    def make(method: str, bound: Mapping[str, Any] | None) -> Callable[..., Any]:
        method_specs = specs.get(method, ())
        partial_kwargs = dict(bound or {})

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            torch = _import_torch()
            device = self.__dict__.get("device") or self.__dict__.setdefault(
                "device", worker_device()
            )
            tensors = [
                to_tensor(
                    arg,
                    method_specs[i] if i < len(method_specs) else None,
                    device,
                    f"argument {i} of {method}",
                )
                for i, arg in enumerate(args)
            ]
            named = {
                key: to_tensor(value, None, device, f"argument {key!r} of {method}")
                for key, value in {**partial_kwargs, **kwargs}.items()
            }
            with torch.inference_mode():
                result = getattr(self.model, method)(*tensors, **named)
            return to_caller(result)

        call.__name__ = call.__qualname__ = method
        return call

    return make


def get_runnable(model: Model) -> type[Runnable]:
    """The Runnable a runner of this model hosts: one method per saved signature.

    torch runs its kernels on its own thread pool (sized by the thread-count variables the
    scheduler sets), and it can use the GPUs the worker is given.
    """
    return adapter.build_runnable(
        model,
        _load_for_worker,
        class_name="PytorchRunnable",
        supported_resources=(GPU, "cpu"),
        supports_cpu_multi_threading=True,
        make_method=_method_maker(input_specs(model)),
    )

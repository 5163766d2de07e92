"""How the arguments of a call become tensors for a saved PyTorch module, and results leave it.

Classic BentoML turned every numpy input into ``torch.Tensor(x)``: float32, whatever it was, so
token ids for an embedding arrived as floats and the embedding refused them. Here an input keeps
its dtype (``torch.from_numpy`` shares the array's memory), unless the method's ``input_spec``
fixes one; then it is converted only where no category is lost (ints to floats, float64 to
float32: ``torch.can_cast``), and refused otherwise, with a message naming what was expected.

torch is imported only inside the functions that run in a runner worker: the API workers that
import a service never pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bentoml_classic.exceptions import InvalidArgument

#: the environment variable the scheduler sets for each runner worker (serving/resources.py)
VISIBLE_GPUS = "CUDA_VISIBLE_DEVICES"


@dataclass(frozen=True)
class TensorSpec:
    """What one positional argument of a method must be: a dtype (a torch dtype's name, such
    as ``"float32"`` or ``"int64"``) and a shape (``-1`` for any size along that dimension)."""

    dtype: str | None = None
    shape: tuple[int, ...] | None = None

    @classmethod
    def convert(cls, value: Any, where: str) -> TensorSpec | None:
        if value is None or isinstance(value, TensorSpec):
            return value
        if not isinstance(value, Mapping) or set(value) - {"dtype", "shape"}:
            raise InvalidArgument(
                f"{where} must be None or a dict with the keys 'dtype' and/or 'shape', such as "
                f"{{'dtype': 'float32', 'shape': [-1, 8]}}; got {value!r:.80}"
            )
        dtype, shape = value.get("dtype"), value.get("shape")
        if dtype is not None and (not isinstance(dtype, str) or not dtype.isidentifier()):
            raise InvalidArgument(f"{where}: dtype must be a torch dtype's name, got {dtype!r:.80}")
        if shape is not None and not (
            isinstance(shape, list | tuple)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= -1 for n in shape)
        ):
            raise InvalidArgument(
                f"{where}: shape must be a list of sizes (-1: any size), got {shape!r:.80}"
            )
        return cls(dtype, None if shape is None else tuple(shape))

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}

    def describe(self) -> str:
        parts = []
        if self.dtype is not None:
            parts.append(f"dtype {self.dtype}")
        if self.shape is not None:
            parts.append(f"shape ({', '.join('-1' if n < 0 else str(n) for n in self.shape)})")
        return " and ".join(parts) or "any tensor"


InputSpecs = tuple[TensorSpec | None, ...]


def convert_input_specs(method: str, value: Any) -> InputSpecs:
    """A signature's ``input_spec``: one spec (the first argument's) or a list, one per
    positional argument (None: anything goes for that one)."""
    where = f"input_spec of method {method!r}"
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(TensorSpec.convert(item, f"{where}[{i}]") for i, item in enumerate(value))
    return (TensorSpec.convert(value, where),)


def check_dtype_names(method: str, specs: InputSpecs) -> None:
    """Refuse, at save time, a dtype name torch does not have (needs torch)."""
    import torch

    for spec in specs:
        dtype = None if spec is None else spec.dtype
        if dtype is not None and not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise InvalidArgument(
                f"input_spec of method {method!r}: {dtype!r} is not a torch dtype "
                "(such as 'float32', 'int64', 'bool')"
            )


def worker_device(environ: Mapping[str, str] = os.environ) -> str:
    """``cuda`` when the scheduler gave this worker GPUs (and CUDA works), else ``cpu``.

    A worker sees only the GPUs in its ``CUDA_VISIBLE_DEVICES``, so ``cuda`` is the first of
    them. A process nobody scheduled (``--development``, ``init_local``) runs on the CPU, as
    does a worker given no GPU: the device follows the resources, never what happens to exist.
    """
    if not environ.get(VISIBLE_GPUS):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _shape_matches(shape: Sequence[int], expected: Sequence[int]) -> bool:
    return len(shape) == len(expected) and all(
        want < 0 or have == want for have, want in zip(shape, expected, strict=True)
    )


def to_tensor(value: Any, spec: TensorSpec | None, device: str, where: str) -> Any:
    """``value`` as a tensor on ``device`` if it is an array or a tensor, else unchanged."""
    import torch

    kind = type(value)
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        if value.dtype.hasobject or value.dtype.kind in "USVMm":
            raise InvalidArgument(
                f"{where} must be numeric, got an array of dtype {value.dtype}"
                + (f"; expected {spec.describe()}" if spec else "")
            )
        # a read-only array (a client's constant, say) is copied: a module may work in place
        tensor = torch.from_numpy(value if value.flags.writeable else value.copy())
    elif isinstance(value, torch.Tensor):
        tensor = value
    else:
        return value
    if spec is not None:
        tensor = _checked(tensor, spec, where)
    return tensor.to(device) if tensor.device.type != device else tensor


def _checked(tensor: Any, spec: TensorSpec, where: str) -> Any:
    import torch

    if spec.shape is not None and not _shape_matches(tuple(tensor.shape), spec.shape):
        raise InvalidArgument(
            f"{where} must have {spec.describe()}, got shape {tuple(tensor.shape)}",
            detail={"expected": spec.to_dict(), "shape": list(tensor.shape)},
        )
    if spec.dtype is None:
        return tensor
    dtype = getattr(torch, spec.dtype)
    if tensor.dtype == dtype:
        return tensor
    got = str(tensor.dtype).removeprefix("torch.")
    if not torch.can_cast(tensor.dtype, dtype):
        raise InvalidArgument(
            f"{where} must have {spec.describe()}, got dtype {got}, which does not convert to "
            f"{spec.dtype} without losing its kind",
            detail={"expected": spec.to_dict(), "dtype": got},
        )
    return tensor.to(dtype)


def to_caller(value: Any) -> Any:
    """A method's result as it leaves the runner: tensors detached and on the CPU (where the
    wire protocol sends them as raw buffers), inside tuples, lists and dicts too."""
    import torch

    if isinstance(value, torch.Tensor):
        plain = value.detach()
        return plain if plain.device.type == "cpu" else plain.cpu()
    if isinstance(value, tuple | list):
        items = [to_caller(item) for item in value]
        if hasattr(value, "_fields"):  # a named tuple
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, dict):
        return {key: to_caller(item) for key, item in value.items()}
    return value

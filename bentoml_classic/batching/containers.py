"""How each batchable value type is measured, joined and cut along its batch dimension.

A batchable runner method receives several callers' inputs joined into one value and returns one
value that is cut back into per-caller pieces. numpy arrays, pandas DataFrames and Series, torch
tensors and plain lists are supported. pandas and torch are recognised by their module name, so
this module never imports them: an API worker that only handles numpy does not pay for pandas.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from ..exceptions import InternalServerError, InvalidArgument
from ..frame_dtypes import column_dtypes

SUPPORTED = "numpy arrays, pandas DataFrames or Series, torch tensors or lists"


def _family(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    if module == "numpy" and kind.__name__ == "ndarray":
        return "numpy"
    if module.startswith("pandas") and kind.__name__ in ("DataFrame", "Series"):
        return "pandas"
    if module.startswith("torch") and kind.__name__ in ("Tensor", "Parameter"):
        return "torch"
    if isinstance(value, list):
        return "list"
    return ""


def is_batchable(value: Any) -> bool:
    return _family(value) != ""


def _not_batchable(value: Any) -> InternalServerError:
    # The service passed the runner something it cannot batch: a bug on the server's side.
    return InternalServerError(
        f"a batchable runner method takes {SUPPORTED}, got {type(value).__name__}"
    )


def _check_dim(value: Any, dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        # e.g. a 0-d array from a client sending a bare number to a method batched on dim 0
        raise InvalidArgument(
            f"batch_dim {dim} does not exist in a {type(value).__name__} with {ndim} dimension(s)"
        )
    return dim % ndim


def rows(value: Any, dim: int) -> int:
    """How many rows ``value`` holds along ``dim``."""
    family = _family(value)
    if family in ("numpy", "torch"):
        return int(value.shape[_check_dim(value, dim, value.ndim)])
    if family == "pandas":
        _check_dim(value, dim, 1)
        return len(value)
    if family == "list":
        _check_dim(value, dim, 1)
        return len(value)
    raise _not_batchable(value)


#: what a pandas cell or a list item is counted as: a 64-bit number, or the pointer of an object
CELL_BYTES = 8


def nbytes(value: Any) -> int:
    """The bytes ``value`` holds in its buffers, in O(1): what a batching queue bounds.

    Exact for numpy arrays and torch tensors. A pandas object or a list counts ``CELL_BYTES``
    per cell, which is exact for 64-bit numbers and leaves out the objects that text cells
    point to: measuring those (``memory_usage(deep=True)``) takes time in proportion to the
    rows, on every call that waits.
    """
    family = _family(value)
    if family == "numpy":
        return int(value.nbytes)
    if family == "torch":
        return int(value.element_size() * value.nelement())
    if family == "pandas":
        cells = value.shape[0] * (value.shape[1] if value.ndim == 2 else 1)
        return int(cells) * CELL_BYTES
    if family == "list":
        return len(value) * CELL_BYTES
    raise _not_batchable(value)


def signature(value: Any, dim: int) -> Hashable:
    """What must match for two values to be joined without changing either's meaning.

    Joining a float array with an int one would silently upcast the ints; joining frames with
    different columns would invent missing values. Such values go in separate batches instead.
    """
    family = _family(value)
    if family in ("numpy", "torch"):
        axis = dim % value.ndim
        rest = tuple(size for i, size in enumerate(value.shape) if i != axis)
        return (family, value.dtype, value.ndim, rest)
    if family == "pandas":
        if value.ndim == 1:
            return ("series", value.dtype, value.name)
        return ("frame", tuple(value.columns), column_dtypes(value))
    if family == "list":
        return ("list",)
    raise _not_batchable(value)


def concat(values: Sequence[Any], dim: int) -> Any:
    """Join values of one signature along ``dim``."""
    first = values[0]
    if len(values) == 1:
        return first
    family = _family(first)
    if family == "numpy":
        import numpy as np

        return np.concatenate(values, axis=dim)
    if family == "torch":
        import torch

        return torch.cat(list(values), dim=dim)
    if family == "pandas":
        import pandas as pd

        # Each caller's index is kept: a model that carries the index through returns it intact.
        return pd.concat(values, axis=0)
    if family == "list":
        joined: list[Any] = []
        for value in values:
            joined.extend(value)
        return joined
    raise _not_batchable(first)


def take(value: Any, start: int, stop: int, dim: int) -> Any:
    """Rows ``start:stop`` of ``value`` along ``dim`` (a view where the type allows one)."""
    family = _family(value)
    if family in ("numpy", "torch"):
        index: list[Any] = [slice(None)] * value.ndim
        index[dim % value.ndim] = slice(start, stop)
        return value[tuple(index)]
    if family == "pandas":
        return value.iloc[start:stop]
    if family == "list":
        return value[start:stop]
    raise _not_batchable(value)


def split(value: Any, sizes: Sequence[int], dim: int) -> list[Any]:
    """Cut ``value`` into consecutive pieces of ``sizes`` rows; the sizes must add up."""
    if len(sizes) == 1:
        total = rows(value, dim)
        if total != sizes[0]:
            raise _row_mismatch(total, sizes)
        return [value]
    total = rows(value, dim)
    if total != sum(sizes):
        raise _row_mismatch(total, sizes)
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(take(value, start, start + size, dim))
        start += size
    return pieces


def _row_mismatch(total: int, sizes: Sequence[int]) -> InternalServerError:
    return InternalServerError(
        f"a batchable runner method returned {total} row(s) for {sum(sizes)} input row(s); "
        "it must return one output row per input row along its batch_dim"
    )

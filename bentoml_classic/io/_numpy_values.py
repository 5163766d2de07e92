"""Making an array of a client's parsed JSON values, for NumpyNdarray: ``np.array(values,
dtype)`` as classic BentoML called it, with every way numpy fails on a client's value turned
into a 400 where classic answered a 500, and the limits checked around it: what an array of
strings may cost in memory (``MEMORY_FACTOR`` times its body), and the range of an integer
dtype, which numpy checks when it makes an array of Python numbers but not in a cast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import BadInput, excerpt
from ._array_paths import ragged_error

#: an array of strings may take at most this many times the size of its body (with a floor of
#: ``MEMORY_FLOOR`` bytes, so that small bodies of short strings are never refused)
MEMORY_FACTOR = 6
MEMORY_FLOOR = 1024 * 1024
#: numpy's fixed-width unicode strings: bytes per character
_UNICODE_CHAR_BYTES = 4
#: dtype kinds whose values numpy parses out of strings (numbers, booleans, dates)
PARSED_KINDS = "biufcMm"

#: float and complex itemsizes from which a Python float never overflows
_WIDE = {"f": 8, "c": 16}


class NotNumbers(Exception):
    """numpy could not read the values as the declared dtype: classic's fallback applies."""


def construct(obj: Any, dtype: np.dtype[Any] | None) -> np.ndarray:
    """``np.array(obj, dtype)``, with every way it fails on a client's value turned into a 400;
    ``NotNumbers`` where classic went on to ``np.array(obj)`` (numpy's ValueError under a
    dtype)."""
    try:
        narrow = dtype is not None and dtype.kind in "fc" and dtype.itemsize < _WIDE[dtype.kind]
        if not narrow:
            return np.array(obj, dtype=dtype)
        with np.errstate(over="ignore"):  # 1e308 as float32 is inf, as in classic
            return np.array(obj, dtype=dtype)
    except ValueError as exc:
        if "maximum number of dimension" in str(exc):
            raise BadInput(
                "array has more dimensions than numpy supports (64)",
                detail={"reason": "too many dimensions", "max_dims": 64},
            ) from None
        if dtype is not None and dtype.kind in PARSED_KINDS:
            raise NotNumbers from None
        raise ragged_error(obj) if isinstance(obj, list) else _unusable(exc, dtype) from None
    except (TypeError, OverflowError, RecursionError) as exc:
        raise _unusable(exc, dtype) from None


def _unusable(exc: BaseException, dtype: np.dtype[Any] | None) -> BadInput:
    target = f" as {dtype}" if dtype is not None else ""
    return BadInput(
        f"the values cannot be made an array{target}: {excerpt(exc)}",
        detail={"reason": excerpt(exc), **({"expected_dtype": str(dtype)} if dtype else {})},
    )


def check_int_range(arr: np.ndarray, dtype: np.dtype[Any]) -> None:
    """What numpy refuses when it makes an integer array of Python numbers: values out of the
    dtype's range (it would otherwise wrap 1000 to -24), and infinity."""
    info = np.iinfo(dtype)
    low: float
    high: float
    detail = {"expected_dtype": str(dtype), "received_dtype": str(arr.dtype)}
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise BadInput(f"array contains infinity, which {dtype} cannot hold", detail=detail)
        low, high = float(arr.min()), float(arr.max())
        fits = info.min - 1 < low and high < info.max + 1  # casting truncates toward zero
    else:
        low, high = int(arr.min()), int(arr.max())
        fits = info.min <= low and high <= info.max
    if not fits:
        bad = low if low < info.min else high
        raise BadInput(
            f"array value {bad} is out of range for {dtype} ({info.min}..{info.max})",
            detail={**detail, "value": bad},
        )


def check_string_budget(leaves: int, longest: int, path: list[int], body_size: int) -> None:
    """Refuse an array of strings that would take more than ``MEMORY_FACTOR`` times its body."""
    size = leaves * max(longest, 1) * _UNICODE_CHAR_BYTES
    budget = max(MEMORY_FACTOR * body_size, MEMORY_FLOOR)
    if size > budget:
        raise BadInput(
            f"array of {leaves} elements would take {size / 2**20:.0f} MiB as numpy strings, "
            f"each as wide as the longest ({longest} characters, at {path}), more than "
            f"{MEMORY_FACTOR} times its body: send shorter strings or fewer of them",
            detail={"reason": "strings too large", "path": path, "length": longest},
        )

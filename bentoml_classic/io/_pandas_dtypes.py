"""Declared dtypes for PandasDataFrame / PandasSeries: normalising, enforcing, documenting.

A column's dtype after parsing is an accident of inference (one JSON null turns an int column
into float64), so enforcement looks at the *values* (``pandas.api.types.infer_dtype``), not the
container: ``[1, null]`` fits ``Int64`` but not ``int64``, ``[1.0, 2.0]`` fits ``int64``, ``[1.5]``
and ``["1"]`` do not. Without enforcement, ``astype`` is tried and only its failures, and the
conversions that would silently corrupt data (strings to bool, integers that wrap around, nulls
into numpy ints or bools), are refused. Either way the result's dtype is checked afterwards.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, pandas_dtype

from ..exceptions import BadInput, InvalidArgument

# infer_dtype() names of the values each family of declared dtype accepts under enforce_dtype
_NUMBERS = {"integer", "floating", "mixed-integer-float", "decimal"}
_ACCEPTED_VALUES: dict[str, set[str]] = {
    "int": {"integer", "floating", "mixed-integer-float"},  # floats only when integral
    "float": _NUMBERS,
    "complex": {*_NUMBERS, "complex"},
    "bool": {"boolean"},
    "string": {"string"},
    "datetime": {"datetime64", "datetime", "date", "string"},
    "timedelta": {"timedelta64", "timedelta", "string"},
}
_MAX_REASON = 200


def to_dtype(value: Any, owner: str) -> Any:
    """``pandas_dtype`` with the error a developer can act on."""
    try:
        return pandas_dtype(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{owner}: invalid dtype {value!r}: {exc}") from None


def family(dtype: Any) -> str:
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype) or dtype.kind in "US":
        return "string"
    return {
        "i": "int",
        "u": "int",
        "f": "float",
        "c": "complex",
        "b": "bool",
        "M": "datetime",
        "m": "timedelta",
    }.get(dtype.kind, "object")


def is_nullable(dtype: Any) -> bool:
    """numpy ints and bools have no missing value: NaN cannot go into them."""
    return not (isinstance(dtype, np.dtype) and dtype.kind in "iub")


def label(value: Hashable) -> Any:
    """A column or index label as a JSON-ready value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, int, float)) or value is None:
        return value
    return str(value)


def dtype_name(dtype: Any) -> str:
    return str(dtype)


def convert(values: pd.Series, target: Any, *, enforce: bool, column: Hashable | None) -> pd.Series:
    """``values`` as ``target``, or a BadInput that names the column and both dtypes."""
    where = "series" if column is None else f"column {label(column)!r}"
    detail: dict[str, Any] = {
        "expected_dtype": dtype_name(target),
        "received_dtype": dtype_name(values.dtype),
    }
    if column is not None:
        detail = {"column": label(column), **detail}

    def refuse(reason: str) -> BadInput:
        return BadInput(f"{where}: {reason}", detail={**detail, "reason": reason})

    if _matches(values.dtype, target):
        return values
    kind = family(target)
    present = values.dropna()
    inferred = infer_dtype(present, skipna=False) if len(present) else "empty"
    if len(present) < len(values) and not is_nullable(target):
        hint = " (declare 'Int64' for nullable integers)" if kind == "int" else ""
        raise refuse(f"has missing values (null), which {target} cannot hold{hint}")
    if enforce and inferred != "empty" and kind in _ACCEPTED_VALUES:
        if inferred not in _ACCEPTED_VALUES[kind]:
            raise refuse(
                f"{_describe(inferred)} values (dtype {values.dtype}) cannot be used as "
                f"{target} without loss{_first_misfit(present, kind)}"
            )
        if kind == "int" and inferred != "integer" and not _all_integral(present):
            raise refuse(f"has non-integer numbers, which {target} cannot hold without loss")
    if kind == "bool" and inferred not in ("boolean", "empty", "integer"):
        # astype(bool) calls any non-empty string True: never what a client meant
        raise refuse(
            f"{_describe(inferred)} values cannot be converted to {target}: send true/false"
        )
    if kind == "int" and inferred in _NUMBERS:
        _check_int_range(present, target, refuse)
    try:
        with np.errstate(over="raise", invalid="raise"):
            converted = values.astype(target)
    except (ValueError, TypeError, OverflowError, FloatingPointError, ArithmeticError) as exc:
        reason = str(exc)[:_MAX_REASON] or type(exc).__name__
        raise refuse(f"values cannot be converted to {target}: {reason}") from None
    if not _matches(converted.dtype, target):
        raise refuse(f"values converted to {converted.dtype}, not {target}")
    return converted


def _matches(have: Any, want: Any) -> bool:
    if isinstance(want, pd.CategoricalDtype) and want.categories is None:
        return isinstance(have, pd.CategoricalDtype)
    return bool(have == want)


def _describe(inferred: str) -> str:
    if inferred.startswith("mixed") and inferred != "mixed-integer-float":
        return "mixed-type"
    return {
        "floating": "float",
        "mixed-integer-float": "number",
        "datetime64": "datetime",
        "timedelta64": "timedelta",
    }.get(inferred, inferred)


# the Python types of the values a family takes (bool is an int to Python, not to a client)
_FITS: dict[str, tuple[type, ...]] = {
    "int": (int, float, np.integer, np.floating),
    "float": (int, float, np.integer, np.floating),
    "complex": (int, float, complex, np.number),
    "bool": (bool, np.bool_),
    "string": (str,),
}


def _first_misfit(present: pd.Series, kind: str) -> str:
    """``; first at row 3: a string``: where to look in a long column."""
    fits = _FITS.get(kind)
    if fits is None:
        return ""
    for row, value in present.items():
        wrong_bool = kind != "bool" and isinstance(value, (bool, np.bool_))
        if wrong_bool or not isinstance(value, fits):
            what = "a boolean" if isinstance(value, (bool, np.bool_)) else type(value).__name__
            what = {"str": "a string", "int": "an integer", "float": "a number"}.get(what, what)
            return f"; first at row {label(row)!r}: {what}"
    return ""


def _all_integral(present: pd.Series) -> bool:
    try:
        numbers = present.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.isfinite(numbers) & (np.mod(numbers, 1) == 0)))


def _check_int_range(present: pd.Series, target: Any, refuse: Any) -> None:
    """numpy and pandas wrap integers silently (1000 as int8 is -24): refuse what cannot fit."""
    info = np.iinfo(getattr(target, "numpy_dtype", target))
    try:
        low, high = present.min(), present.max()
    except TypeError:
        return  # mixed values: astype will refuse them
    if isinstance(low, float) and not (np.isfinite(low) and np.isfinite(high)):
        raise refuse(f"has NaN or infinite values, which {target} cannot hold")
    if low < info.min or high > info.max:
        bad = label(low if low < info.min else high)
        raise refuse(f"value {bad} is out of range for {target} ({info.min}..{info.max})")
